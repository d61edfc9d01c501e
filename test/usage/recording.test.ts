import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { UsageRecorder } from '../../core/usage/recorder.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  // A long interval: every test flushes explicitly, so nothing depends on timing.
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
});
afterAll(() => stack.close());

interface Rec {
  key_id: string | null;
  source: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  code: string | null;
  counted: boolean;
  created_at: Date;
}

async function records(workspaceId: string): Promise<Rec[]> {
  await stack.deps.usage.flush();
  return stack.orm.em
    .fork()
    .execute<Rec[]>(`select key_id, source, method, route, status, latency_ms, code, counted, created_at from usage_record where workspace_id = ? order by id`, [workspaceId]);
}

describe('every call to Gatehouse is recorded', () => {
  it('records a REST call with its route pattern, status, latency and key', async () => {
    const ws = await stack.workspace(['admin']);
    expect((await stack.rest('GET', '/usage/summary', { key: ws.secret })).status).toBe(200);
    expect((await stack.rest('GET', '/usage/keys/no-such-key', { key: ws.secret })).status).toBe(404);
    const rows = await records(ws.workspaceId);
    expect(rows).toHaveLength(2);
    // Kept for the request log, never counted: usage is the provider's API traffic (test/usage/sources.test.ts).
    expect(rows[0]).toMatchObject({ key_id: ws.keyId, source: 'api', method: 'GET', route: '/usage/summary', status: 200, counted: false });
    // The pattern, never the raw path with the id in it.
    expect(rows[1]).toMatchObject({ route: '/usage/keys/{id}', status: 404 });
    for (const r of rows) {
      expect(r.latency_ms).toBeGreaterThan(0);
      expect(r.latency_ms).toBeLessThan(10_000);
    }
  });

  it('records a refused call (403) and a bad request (400) of a known key', async () => {
    const ws = await stack.workspace(['read-only']);
    const refused = await stack.rest('POST', '/api-keys/owner/limit-requests', { key: ws.secret, body: { limit_name: 'x', requested_limit: 5 } });
    expect(refused.status).toBe(403);
    const bad = await stack.rest('GET', '/usage/timeseries?interval=week', { key: ws.secret });
    expect(bad.status).toBe(400);
    const rows = await records(ws.workspaceId);
    expect(rows.map((r) => [r.method, r.route, r.status])).toEqual([
      ['POST', '/api-keys/{id}/limit-requests', 403],
      ['GET', '/usage/timeseries', 400],
    ]);
  });

  it('records tRPC calls by procedure', async () => {
    const ws = await stack.workspace(['admin']);
    const ok = await stack.rest('GET', '/trpc/system.whoami', { key: ws.secret });
    expect(ok.status).toBe(200);
    const rows = await records(ws.workspaceId);
    expect(rows).toEqual([expect.objectContaining({ source: 'api', method: 'GET', route: '/trpc/system.whoami', status: 200, key_id: ws.keyId })]);
  });

  it('records every verification, over REST and tRPC, counted once', async () => {
    const ws = await stack.workspace(['admin']);
    const created = await stack.rest('POST', '/api-keys', { key: ws.secret, body: { id: 'customer', permissions: ['products:read'] } });
    expect(created.status).toBe(201);
    expect((await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { key: created.body.api_key, permission: 'products:write' } })).body.code).toBe(
      'INSUFFICIENT_PERMISSIONS',
    );
    const caller = await stack.caller(ws.secret);
    expect((await caller.keys.verify({ key: created.body.api_key })).code).toBe('VALID');
    expect((await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { key: 'gate_sk_live_unknownunknown' } })).body.code).toBe('NOT_FOUND');
    const verifications = (await records(ws.workspaceId)).filter((r) => r.source === 'verification');
    expect(verifications.map((r) => [r.key_id, r.code, r.status, r.counted])).toEqual([
      ['customer', 'INSUFFICIENT_PERMISSIONS', 403, true],
      ['customer', 'VALID', 200, true],
      [null, 'NOT_FOUND', 401, true],
    ]);
    // Each verification is its call's only record: no second `api` record of the same call.
    const apiRecords = (await records(ws.workspaceId)).filter((r) => r.source === 'api').map((r) => r.route);
    expect(apiRecords).toEqual(['/api-keys']);
  });

  it('keeps an api record of a verify call refused before any verification', async () => {
    const ws = await stack.workspace(['admin']);
    expect((await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { permission: 'x' } })).status).toBe(400);
    expect((await stack.rest('POST', '/trpc/keys.verify', { key: ws.secret, body: { key: '' } })).status).toBe(400);
    // Over HTTP tRPC too, a verification that ran is the call's only record.
    expect((await stack.rest('POST', '/trpc/keys.verify', { key: ws.secret, body: { key: 'gate_sk_live_unknownunknown' } })).status).toBe(200);
    const rows = (await records(ws.workspaceId)).map((r) => [r.source, r.route, r.status, r.counted]);
    expect(rows).toEqual([
      ['api', '/v1/keys/verify', 400, false],
      ['api', '/trpc/keys.verify', 400, false],
      ['verification', '/v1/keys/verify', 401, true],
    ]);
  });

  it('does not record calls no workspace can be named for (public routes, missing or unknown keys)', async () => {
    const before = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from usage_record`);
    await stack.deps.usage.flush();
    await stack.rest('GET', '/healthz', { key: null });
    await stack.rest('GET', '/usage/summary', { key: null });
    await stack.rest('GET', '/usage/summary', { key: 'gate_sk_live_notarealkeyatall0000' });
    await stack.deps.usage.flush();
    const after = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from usage_record`);
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('keeps usage calls of one workspace out of another', async () => {
    const a = await stack.workspace(['admin']);
    const b = await stack.workspace(['admin']);
    await stack.rest('GET', '/usage/summary', { key: a.secret });
    await stack.deps.usage.flush();
    const seenByB = await stack.rest('GET', '/logs', { key: b.secret });
    expect(seenByB.status).toBe(200);
    // B sees only its own GET /logs call (recorded after the response was computed: none yet).
    expect(seenByB.body.entries).toEqual([]);
  });
});

describe('the batch writer', () => {
  const log = createLogger('silent');
  const input = (workspaceId: string, i: number) => ({
    workspaceId,
    keyId: 'k',
    source: 'service' as const,
    method: 'GET',
    route: `/items/{id}`,
    status: 200,
    latencyMs: i,
  });
  const count = async (ws: string) =>
    Number((await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from usage_record where workspace_id = ?`, [ws]))[0]!.n);

  it('writes a batch as soon as it is full, without waiting for the interval', async () => {
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, batchSize: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) rec.record(input('ws-batch', i));
    await expect.poll(() => count('ws-batch'), { timeout: 5_000 }).toBe(10);
    for (let i = 0; i < 4; i++) rec.record(input('ws-batch', i));
    // Not a full batch, and the interval is a minute away: held in the buffer, not on its way.
    expect(rec.buffered).toBe(4);
    expect(await count('ws-batch')).toBe(10);
    // Six more fill the next batch, which goes out at once with those four in it.
    for (let i = 4; i < 10; i++) rec.record(input('ws-batch', i));
    await expect.poll(() => count('ws-batch'), { timeout: 5_000 }).toBe(20);
    expect(rec.buffered).toBe(0);
    rec.record(input('ws-batch', 10));
    await rec.close();
    expect(await count('ws-batch')).toBe(21);
  });

  it('flushes on the interval', async () => {
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, batchSize: 1_000, flushIntervalMs: 100 });
    rec.record(input('ws-interval', 1));
    await expect.poll(() => count('ws-interval'), { timeout: 5_000 }).toBe(1);
    await rec.close();
  });

  it('under a steady stream, writes a batch a tick rather than one write after another', async () => {
    const interval = 200;
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, batchSize: 50_000, flushIntervalMs: interval });
    let batches = 0;
    rec.onBatchWritten = () => void batches++;
    const started = performance.now();
    let sent = 0;
    // A record every millisecond or so for about six ticks: a drain that looped wrote each write's
    // arrivals at once in a batch of their own, one batch every few milliseconds.
    while (performance.now() - started < 6 * interval) {
      rec.record(input('ws-steady', sent++));
      await new Promise((r) => setTimeout(r, 1));
    }
    const ticks = (performance.now() - started) / interval;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThanOrEqual(Math.ceil(ticks) + 1);
    await rec.close();
    expect(await count('ws-steady')).toBe(sent);
  });

  it('flush() writes everything recorded before it, even when the timer is writing a batch', async () => {
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, flushIntervalMs: 20 });
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) {
        rec.record(input('ws-flush', sent++));
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await rec.flush();
      expect(await count('ws-flush')).toBe(sent);
    }
    await rec.close();
  });

  it('drops beyond its bound instead of growing, and says how many', async () => {
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, batchSize: 1_000, maxBuffer: 5, flushIntervalMs: 60_000 });
    const kept = Array.from({ length: 8 }, (_, i) => rec.record(input('ws-bound', i)));
    expect(kept).toEqual([true, true, true, true, true, false, false, false]);
    expect(rec.stats.dropped).toBe(3);
    await rec.close();
    expect(await count('ws-bound')).toBe(5);
  });

  it('keeps a failed batch for the next try', async () => {
    const rec = new UsageRecorder({ databaseUrl: 'postgres://postgres@127.0.0.1:1/nowhere', log, flushIntervalMs: 60_000 });
    rec.record(input('ws-fail', 1));
    await rec.flush();
    expect(rec.stats.failedBatches).toBe(1);
    expect(rec.buffered).toBe(1);
    await rec.close().catch(() => {});
  });

  it('stores text that needs escaping unchanged', async () => {
    const rec = new UsageRecorder({ databaseUrl: stack.databaseUrl, log, flushIntervalMs: 60_000 });
    rec.record({ ...input('ws-escape', 1), route: '/a\\b\tc\nd' });
    await rec.close();
    const [row] = await stack.orm.em.fork().execute<{ route: string }[]>(`select route from usage_record where workspace_id = 'ws-escape'`);
    expect(row!.route).toBe('/a\\b\tc\nd');
  });

  it('sums a batch of several slices into rollups exactly: keys and routes interleaved, across a minute boundary, into minutes, hours and days', async () => {
    const ws = await stack.workspace(['admin']);
    const n = 5_000;
    // Rows a millisecond apart around the start of this minute: the batch spans two minute buckets,
    // and more rows than the recorder sums in one event-loop turn.
    const minuteStart = Math.floor(Date.now() / 60_000) * 60_000;
    const first = minuteStart - 2_500;
    type Sums = { calls: number; e4: number; e5: number; refused: number; sum: number; max: number; hist: number };
    const grains = { usage_minute: 60_000, usage_hour: 3_600_000, usage_day: 86_400_000 } as const;
    const expected = Object.fromEntries(Object.keys(grains).map((t) => [t, new Map<string, Sums>()])) as Record<keyof typeof grains, Map<string, Sums>>;
    for (let i = 0; i < n; i++) {
      const keyId = `key_${i % 3}`;
      const route = `/r${i % 5}`;
      const status = [200, 200, 404, 503][i % 4]!;
      const code = i % 6 === 0 ? 'RATE_LIMITED' : 'VALID';
      const latencyMs = (i % 97) / 2;
      const at = first + i;
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId, source: 'verification', method: 'POST', route, status, latencyMs, code, counted: true, at: new Date(at) });
      // Each grain summed straight from the calls, not from the finer grain.
      for (const [table, step] of Object.entries(grains) as [keyof typeof grains, number][]) {
        const k = `${at - (at % step)} ${keyId} POST ${route}`;
        const e = expected[table].get(k) ?? { calls: 0, e4: 0, e5: 0, refused: 0, sum: 0, max: 0, hist: 0 };
        e.calls++;
        if (status === 404) e.e4++;
        if (status === 503) e.e5++;
        if (code !== 'VALID') e.refused++;
        e.sum += latencyMs;
        e.max = Math.max(e.max, latencyMs);
        e.hist++;
        expected[table].set(k, e);
      }
    }
    await stack.deps.usage.flush();
    for (const table of Object.keys(grains) as (keyof typeof grains)[]) {
      const rows = await stack.orm.em
        .fork()
        .execute<{ bucket: Date; key_id: string; route: string; calls: string; errors_4xx: string; errors_5xx: string; refused: string; latency_sum: number; latency_max: number; hist: string[] }[]>(
          `select bucket, key_id, route, calls, errors_4xx, errors_5xx, refused, latency_sum, latency_max, hist from ${table} where workspace_id = ?`,
          [ws.workspaceId],
        );
      const actual = new Map(
        rows.map((r) => [
          `${new Date(r.bucket).getTime()} ${r.key_id} ${r.route}`,
          {
            calls: Number(r.calls),
            e4: Number(r.errors_4xx),
            e5: Number(r.errors_5xx),
            refused: Number(r.refused),
            sum: r.latency_sum,
            max: r.latency_max,
            // Every call lands in one histogram bucket.
            hist: r.hist.reduce((t, x) => t + Number(x), 0),
          },
        ]),
      );
      expect(actual, table).toEqual(expected[table]);
    }
    expect(new Set([...expected.usage_minute.keys()].map((k) => k.split(' ')[0])).size).toBe(2);
    const [total] = await stack.orm.em
      .fork()
      .execute<{ calls: string }[]>(`select sum(calls) as calls from usage_day_total where workspace_id = ?`, [ws.workspaceId]);
    expect(Number(total!.calls)).toBe(n);
  });
});

// The recorder writes its batches by COPY in PostgreSQL's binary format (core/usage/copy-binary.ts):
// a row whose fields differ from what was recorded, or records lost across chunk boundaries, would show here.
describe('usage records written by binary COPY', () => {
  it('keep every field as recorded: characters text COPY escapes, multi-byte text, NULLs, fractions and milliseconds', async () => {
    const ws = await stack.workspace(['admin']);
    // Today's partition exists; a time with milliseconds in it.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 655);
    const routes = ['/tab\there/{id}', '/line\nbreak', '/back\\slash\\N', '/café/{id}/✓'];
    for (const route of routes) {
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: null, source: 'service', method: 'GET', route, status: 503, latencyMs: 12.25, code: null, counted: false, at });
    }
    stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'key_ünïcode', source: 'verification', method: 'POST', route: '/v1/keys/verify', status: 200, latencyMs: 0.1, code: 'RATE_LIMITED', counted: true, at });
    const rows = await records(ws.workspaceId);
    expect(rows.map((r) => r.route)).toEqual([...routes, '/v1/keys/verify']);
    for (const r of rows.slice(0, 4)) {
      expect(r).toMatchObject({ key_id: null, source: 'service', method: 'GET', status: 503, latency_ms: 12.25, code: null, counted: false });
      expect(new Date(r.created_at).toISOString()).toBe(at.toISOString());
    }
    expect(rows[4]).toMatchObject({ key_id: 'key_ünïcode', source: 'verification', method: 'POST', status: 200, code: 'RATE_LIMITED', counted: true });
    // `real`: the float4 nearest 0.1, as text COPY stored it.
    expect(rows[4]!.latency_ms).toBeCloseTo(0.1, 6);
  });

  it('loses nothing across chunks: a batch of many rows, keys and routes changing from row to row', async () => {
    const ws = await stack.workspace(['admin']);
    const n = 3_000;
    const at = Date.now() - n;
    for (let i = 0; i < n; i++) {
      // ~200 bytes a row: a 64 KB chunk holds ~300 of them, so the batch spans several.
      const route = `/r${i % 7}/${'x'.repeat(150)}`;
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: `key_${i % 3}`, source: 'service', method: i % 2 ? 'POST' : 'GET', route, status: 200 + (i % 5), latencyMs: i / 4, code: i % 4 ? 'VALID' : null, counted: true, at: new Date(at + i) });
    }
    const rows = await records(ws.workspaceId);
    expect(rows).toHaveLength(n);
    rows.forEach((r, i) => {
      expect([r.key_id, r.method, r.route.slice(0, 3), r.status, r.latency_ms, r.code, new Date(r.created_at).getTime()]).toEqual([
        `key_${i % 3}`,
        i % 2 ? 'POST' : 'GET',
        `/r${i % 7}`,
        200 + (i % 5),
        i / 4,
        i % 4 ? 'VALID' : null,
        at + i,
      ]);
    });
  });
});
