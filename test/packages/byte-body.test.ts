// @gatehouse/client hands a byte-array body to the runtime's fetch as a one-chunk stream, so Node's
// fetch does not copy it (each copy of a usage batch is external memory that brought on full
// garbage collections in a busy service). What a user would notice if that went wrong: bytes
// sent other than the ones given (a view's offset ignored), or a retried call sending nothing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatehouseRest } from '@gatehouse/client/rest';

let server: Server;
let url: string;
/** Every body received, and how many 429s are still to be answered before a 200. */
const bodies: string[] = [];
let refuseNext = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.setHeader('content-type', 'application/json');
      if (refuseNext > 0) {
        refuseNext--;
        res.statusCode = 429;
        res.setHeader('retry-after', '0');
        res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }));
        return;
      }
      res.end(JSON.stringify({ accepted: 1, rejected: 0, errors: [] }));
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const BODY = '{"records":[{"key_id":"key_1","method":"GET","route":"/p/{id}","status":200,"latency_ms":1.5,"time":"2026-12-03T10:00:00.000Z","code":"VALID"}]}';

/** The body as a view into the middle of a larger buffer, as the middleware's batches are. */
function viewOf(text: string): Uint8Array {
  const bytes = Buffer.from(`xxxx${text}yyyy`);
  return bytes.subarray(4, 4 + Buffer.byteLength(text));
}

describe('a byte-array body through the runtime fetch', () => {
  it('arrives as exactly the bytes of the view, not of the buffer behind it', async () => {
    bodies.length = 0;
    const rest = createGatehouseRest({ url, apiKey: 'service-key', retries: 0 });
    expect(await rest.reportUsageJson(viewOf(BODY))).toEqual({ accepted: 1, rejected: 0, errors: [] });
    expect(bodies).toEqual([BODY]);
  });

  it('is sent again whole on each retry after a 429', async () => {
    bodies.length = 0;
    refuseNext = 2;
    const rest = createGatehouseRest({ url, apiKey: 'service-key', retries: 2 });
    expect(await rest.reportUsageJson(viewOf(BODY))).toEqual({ accepted: 1, rejected: 0, errors: [] });
    expect(bodies).toEqual([BODY, BODY, BODY]);
  });
});
