// What @gatehouse/express sends to `POST /v1/usage`: reports are written into their batch as JSON
// when they arrive (not kept as objects until the batch goes), so the body must be exactly the
// JSON of the reports, text that needs escaping included, and drop the oldest ones exactly when
// the buffer is full. Gatehouse is a `fetch` that keeps the bodies it is sent.
import { describe, expect, it } from 'vitest';
import { createGuard, type UsageReport } from '@gatehouse/express';

function capture() {
  const bodies: { records: UsageReport[] }[] = [];
  const texts: string[] = [];
  let down = false;
  const fetch: typeof globalThis.fetch = async (input, init) => {
    if (down) throw new TypeError('fetch failed');
    expect(String(input)).toMatch(/\/v1\/usage$/);
    const body = init?.body;
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
    const parsed = JSON.parse(text) as { records: UsageReport[] };
    texts.push(text);
    bodies.push(parsed);
    return new Response(JSON.stringify({ accepted: parsed.records.length, rejected: 0, errors: [] }), { status: 202, headers: { 'content-type': 'application/json' } });
  };
  return { bodies, texts, fetch, setDown: (d: boolean) => (down = d) };
}

const report = (over: Partial<UsageReport> = {}): UsageReport => ({
  key_id: 'key_1',
  method: 'GET',
  route: '/products/{id}',
  status: 200,
  latency_ms: 1.25,
  time: '2026-12-03T08:00:00.123Z',
  code: 'VALID',
  ...over,
});

describe('@gatehouse/express: the usage batches it sends', () => {
  it('sends each report as JSON.stringify would, whatever its text', async () => {
    const { bodies, texts, fetch } = capture();
    const guard = createGuard({ url: 'http://gatehouse.test', apiKey: 'svc', flushIntervalMs: 60_000, fetch });
    const reports = [
      report(),
      // Rows share their start and end with the last one while those fields are the same: each change shows.
      report({ code: 'RATE_LIMITED', status: 429 }),
      report({ code: 'RATE_LIMITED', time: '2026-12-03T08:00:00.124Z' }),
      report({ route: '/products', time: '2026-12-03T08:00:00.124Z' }),
      report({ key_id: 'key_2', time: '2026-12-03T08:00:00.124Z' }),
      report({ key_id: null, code: null, status: 401, latency_ms: 0 }),
      report({ route: '/say/"quoted"\\back\\slash', method: 'PATCH' }),
      report({ route: '/naïve/日本/😀', time: 'not\nan ISO time' }),
      report({ route: '/control/\u0001\u001f\u007f', key_id: 'k\u2028\u2029' }),
      report({ latency_ms: Number.NaN, status: 599 }),
      report({ route: `/${'long'.repeat(2_000)}` }),
      // Numbers are written digit by digit where they are whole or in hundredths, else as String() writes them.
      ...[0.07, 0.1, 12.3, 12.35, 100, 1.005, 1 / 3, -0, -1.5, 9_999_999.99, 10_000_000.5, 1e21, 5e-7, Number.POSITIVE_INFINITY, Number.MAX_VALUE].map((latency_ms) =>
        report({ latency_ms }),
      ),
      ...[0, 7, 99, 200.5, 65_536, -1, 2 ** 31, Number.NEGATIVE_INFINITY].map((status) => report({ status })),
    ];
    for (const r of reports) guard.report(r);
    await guard.close();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toEqual(JSON.parse(JSON.stringify({ records: reports })));
    // The very text, not only the same values: what JSON.stringify of the reports writes.
    expect(texts[0]).toBe(JSON.stringify({ records: reports }));
  });

  it('sends full batches as they fill, the rest on flush, in order', async () => {
    const { bodies, fetch } = capture();
    const guard = createGuard({ url: 'http://gatehouse.test', apiKey: 'svc', batchSize: 10, flushIntervalMs: 60_000, fetch });
    for (let i = 0; i < 25; i++) guard.report(report({ route: `/r/${i}`, latency_ms: i }));
    await guard.close();
    expect(bodies.map((b) => b.records.length)).toEqual([10, 10, 5]);
    expect(bodies.flatMap((b) => b.records.map((r) => r.route))).toEqual(Array.from({ length: 25 }, (_, i) => `/r/${i}`));
  });

  it('keeps the newest maxBuffer reports across batches while Gatehouse is down, then sends exactly those', async () => {
    const { bodies, fetch, setDown } = capture();
    const errors: string[] = [];
    const guard = createGuard({ url: 'http://gatehouse.test', apiKey: 'svc', batchSize: 10, maxBuffer: 25, flushIntervalMs: 60_000, fetch, onError: (e) => errors.push(e.message) });
    setDown(true);
    for (let i = 0; i < 47; i++) guard.report(report({ route: `/r/${i}` }));
    await guard.flush();
    setDown(false);
    await guard.close();
    expect(errors.some((m) => m.includes('usage report failed'))).toBe(true);
    expect(errors.some((m) => /the 22 oldest reports were dropped/.test(m))).toBe(true);
    expect(bodies.flatMap((b) => b.records.map((r) => r.route))).toEqual(Array.from({ length: 25 }, (_, i) => `/r/${i + 22}`));
  });
});
