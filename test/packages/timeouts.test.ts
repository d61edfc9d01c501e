// @gatehouse/client's per-call timeout (`timeoutMs`), which @gatehouse/express's verifications and
// usage reports go through: it still gives up on a Gatehouse that stops answering mid-body, and it
// never fires on a call already answered (each such abort cost a busy service ~40 µs of CPU,
// seconds after the request it belonged to). Timers are Vitest's fake ones: the deadline passes
// when the test says so, not after a sleep.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createGatehouseRest } from '@gatehouse/client/rest';

const TIMEOUT_MS = 5_000;
let server: Server;
let url: string;
/** Answers held back by the test (`x-hold`), to look at the client while a call is under way. */
const held: (() => void)[] = [];
const VALID = JSON.stringify({ valid: true, code: 'VALID', key_id: 'key_1', permissions: [], ratelimit: null, quota: null, credits: null, expires_at: null });

beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    // Headers and half a body, then nothing: the call must still time out.
    if (req.url === '/v1/keys/verify' && req.headers['x-stall'] === '1') {
      res.write('{"valid":');
      return;
    }
    if (req.headers['x-hold'] === '1') held.push(() => res.end(VALID));
    else res.end(VALID);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A client whose every fetch's signal is kept, to see whether its deadline aborted it. */
function client(headers: Record<string, string> = {}) {
  const signals: AbortSignal[] = [];
  const answers: Response[] = [];
  const rest = createGatehouseRest({
    url,
    apiKey: 'service-key',
    timeoutMs: TIMEOUT_MS,
    retries: 0,
    headers,
    fetch: (input, init) => {
      signals.push(init!.signal!);
      return fetch(input, init).then((res) => {
        answers.push(res);
        return res;
      });
    },
  });
  return { rest, signals, answers };
}

describe('@gatehouse/client: the per-call timeout', () => {
  it('runs while the call is under way and ends with it: it never fires on a call answered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { rest, signals } = client({ 'x-hold': '1' });
    const call = rest.verify({ key: 'k' });
    await vi.waitFor(() => expect(held).toHaveLength(1));
    // Other timers (fetch's own) may be pending too: the call's deadline is the one that goes.
    const during = vi.getTimerCount();
    held.shift()!();
    expect((await call).code).toBe('VALID');
    expect(vi.getTimerCount()).toBe(during - 1);
    vi.advanceTimersByTime(TIMEOUT_MS * 2);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
  });

  it('gives up on an answer whose body stops coming', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { rest, signals, answers } = client({ 'x-stall': '1' });
    const outcome = rest.verify({ key: 'k' }).then(() => 'answered', (err: Error) => err);
    // The answer's status and headers are in: the call is reading a body that never ends.
    await vi.waitFor(() => expect(answers).toHaveLength(1));
    expect(answers[0]!.status).toBe(200);
    vi.advanceTimersByTime(TIMEOUT_MS + 1);
    const err = await outcome;
    expect(signals[0]!.aborted).toBe(true);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/could not be read/);
  });
});
