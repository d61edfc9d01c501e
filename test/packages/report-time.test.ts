// The `time` @gatehouse/express reports for each response: the wall clock when it was sent, to the
// millisecond, as toISOString writes it. The middleware formats the second once and writes the
// milliseconds after it, so the cases are a second's and a day's turn and each width of milliseconds.
// Only Date is faked (the wall clock stands where the test sets it); the server and fetch are real.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gatehouse, type GatehouseMiddleware } from '@gatehouse/express';
import { withGatehouse } from '@gatehouse/express/fetch';

const VALID = JSON.stringify({ valid: true, code: 'VALID', key_id: 'key_1', permissions: ['products:read'], ratelimit: null, quota: null, credits: null, expires_at: null });
let fake: Server;
let service: Server;
let guard: GatehouseMiddleware;
let base: string;
let fakeUrl: string;
/** The records Gatehouse was sent, in order. */
const records: { time: string; route: string; status: number }[] = [];

const listen = async (s: Server) => {
  s.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  fake = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/usage') {
        const { records: sent } = JSON.parse(body) as { records: typeof records };
        records.push(...sent);
        res.statusCode = 202;
        res.end(JSON.stringify({ accepted: sent.length, rejected: 0, errors: [] }));
        return;
      }
      res.end(VALID);
    });
  });
  fakeUrl = await listen(fake);
  guard = gatehouse({ url: fakeUrl, apiKey: 'service-key', permission: 'products:read', flushIntervalMs: 60_000 });
  const app = express();
  app.get('/products/:id', guard, (_req, res) => {
    res.json({ ok: true });
  });
  service = app.listen(0, '127.0.0.1');
  base = await listen(service);
});
afterAll(async () => {
  vi.useRealTimers();
  await guard.close();
  for (const s of [service, fake]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/**
 * The wall clock is read at most once per millisecond of the monotonic one: the next response is
 * sent only once that has moved on, as it does between any two requests but the fastest.
 */
async function nextMonotonicMs(after: number): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (performance.now() - after < 1.5) {
    if (performance.now() > deadline) throw new Error('the monotonic clock did not move');
    await new Promise((r) => setImmediate(r));
  }
}

describe("@gatehouse/express: each report's time", () => {
  it('is the wall clock when the response was sent, across a second and a day turning', async () => {
    const times = ['2026-12-04T23:59:59.999Z', '2026-12-05T00:00:00.007Z', '2026-12-05T00:00:00.070Z', '2026-12-05T00:00:00.700Z', '2026-12-05T00:00:01.000Z'];
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const [i, time] of times.entries()) {
      vi.setSystemTime(new Date(time));
      const res = await fetch(`${base}/products/${i}`, { headers: { 'x-api-key': 'caller-key' } });
      expect(res.status).toBe(200);
      const sent = performance.now();
      await res.arrayBuffer();
      await nextMonotonicMs(sent);
    }
    vi.useRealTimers();
    await guard.flush();
    expect(records.map((r) => r.time)).toEqual(times);
    expect(records.map((r) => r.route)).toEqual(times.map(() => '/products/{id}'));
  });

  it('is the same wall clock from the WHATWG Request/Response adapter', async () => {
    records.length = 0;
    const guarded = withGatehouse({ url: fakeUrl, apiKey: 'service-key', permission: 'products:read', flushIntervalMs: 60_000, route: () => '/products/{id}' });
    const handler = guarded(() => Response.json({ ok: true }));
    const times = ['2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.005Z', '2027-01-01T00:00:00.050Z'];
    await nextMonotonicMs(performance.now());
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const time of times) {
      vi.setSystemTime(new Date(time));
      const res = await handler(new Request('http://service.test/products/1', { headers: { 'x-api-key': 'caller-key' } }));
      expect(res.status).toBe(200);
      await nextMonotonicMs(performance.now());
    }
    vi.useRealTimers();
    await guarded.close();
    expect(records.map((r) => r.time)).toEqual(times);
  });
});
