import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { snakeKeysDeep } from '../../server/rest/case.js';

let stack: Stack;
let ws: { workspaceId: string; secret: string; keyId: string };
let other: { workspaceId: string; secret: string; keyId: string };

// 20 calls of `owner` on 2026-10-05, one a minute from 10:00: 18 at 40 ms, one at 180 ms, one at
// 900 ms; 17 × 200, 2 × 404, 1 × 503. Sorted, the 19th (ceil(0.95 × 20)) is 180 ms, in the
// (100, 200] bucket: p95 = 200. Average (18×40 + 180 + 900) / 20 = 90.
const DAY = '2026-10-05';
function seed(workspaceId: string, keyId: string) {
  for (let i = 0; i < 20; i++) {
    const latencyMs = i === 18 ? 180 : i === 19 ? 900 : 40;
    const status = i === 3 || i === 7 ? 404 : i === 11 ? 503 : 200;
    stack.deps.usage.record({
      workspaceId,
      keyId,
      source: 'service',
      method: 'GET',
      route: '/products/{id}',
      status,
      latencyMs,
      at: new Date(`${DAY}T10:${String(i).padStart(2, '0')}:30Z`),
    });
  }
}

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  ws = await stack.workspace(['admin']);
  other = await stack.workspace(['admin']);
  seed(ws.workspaceId, ws.keyId);
  // Another workspace's traffic on the same day must never show up in ws's numbers.
  stack.deps.usage.record({ workspaceId: other.workspaceId, keyId: other.keyId, source: 'service', method: 'GET', route: '/x', status: 500, latencyMs: 5000, at: new Date(`${DAY}T10:00:00Z`) });
  await stack.deps.usage.flush();
});
afterAll(() => stack.close());

describe('GET /usage/summary', () => {
  it('sums a month of known calls exactly, p95 from the histogram bucket', async () => {
    const res = await stack.rest('GET', '/usage/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z', { key: ws.secret });
    expect(res.status).toBe(200);
    // health = 0.5 × max(0, 1 − 0.15/0.10) × 100 + 0.3 × min(1, 300/200) × 100 + 0.2 × 100 = 50
    expect(res.body).toEqual({
      calls: 20,
      errors_4xx: 2,
      errors_5xx: 1,
      error_rate: 0.15,
      avg_latency_ms: 90,
      p95_latency_ms: 200,
      health_score: 50,
      health_parts: { errors: 0, latency: 100, webhooks: 100 },
    });
  });

  it('reads ragged ends from minute rollups: part of an hour, and a range across days', async () => {
    const five = await stack.rest('GET', `/usage/summary?from=${DAY}T10:00:00Z&to=${DAY}T10:05:00Z`, { key: ws.secret });
    expect(five.body).toMatchObject({ calls: 5, errors_4xx: 1, errors_5xx: 0, avg_latency_ms: 40, p95_latency_ms: 40 });
    const across = await stack.rest('GET', `/usage/summary?from=2026-10-04T12:00:00Z&to=2026-10-06T06:00:00Z`, { key: ws.secret });
    expect(across.body).toMatchObject({ calls: 20, p95_latency_ms: 200 });
    const last = await stack.rest('GET', `/usage/summary?from=${DAY}T10:19:00Z&to=${DAY}T11:00:00Z`, { key: ws.secret });
    // One call of 900 ms: the open-ended bucket reports the largest latency seen.
    expect(last.body).toMatchObject({ calls: 1, avg_latency_ms: 900, p95_latency_ms: 900 });
  });

  it('reads whole hours of ragged ends from hour rollups, written with the minute ones', async () => {
    const hours = await stack.orm.em
      .fork()
      .execute<{ bucket: Date; calls: string; hist: string[] }[]>(`select bucket, calls, hist from usage_hour where workspace_id = ?`, [ws.workspaceId]);
    expect(hours.map((h) => [new Date(h.bucket).toISOString(), Number(h.calls)])).toEqual([[`${DAY}T10:00:00.000Z`, 20]]);
    expect(hours[0]!.hist.map(Number).reduce((a, b) => a + b, 0)).toBe(20);
    // 09:59–11:00: a minute before the hour, then the whole 10:00 hour from usage_hour.
    const hour = await stack.rest('GET', `/usage/summary?from=${DAY}T09:59:00Z&to=${DAY}T11:00:00Z`, { key: ws.secret });
    expect(hour.body).toMatchObject({ calls: 20, errors_4xx: 2, errors_5xx: 1, avg_latency_ms: 90, p95_latency_ms: 200 });
    // 08:00–10:05: two empty hours, then five minutes.
    const early = await stack.rest('GET', `/usage/summary?from=${DAY}T08:00:00Z&to=${DAY}T10:05:00Z`, { key: ws.secret });
    expect(early.body).toMatchObject({ calls: 5, errors_4xx: 1 });
    // A day and a half: hours of Oct 4 and Oct 6 around the whole of Oct 5.
    const dayAndAHalf = await stack.rest('GET', `/usage/summary?from=2026-10-04T10:30:00Z&to=2026-10-06T10:15:00Z`, { key: ws.secret });
    expect(dayAndAHalf.body).toMatchObject({ calls: 20 });
  });

  it('defaults to this calendar month', async () => {
    for (const latencyMs of [10, 30]) {
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'now-key', source: 'service', method: 'GET', route: '/now', status: 200, latencyMs });
    }
    await stack.deps.usage.flush();
    const res = await stack.rest('GET', '/usage/summary?key_id=now-key', { key: ws.secret });
    expect(res.body).toMatchObject({ calls: 2, avg_latency_ms: 20, p95_latency_ms: 30, error_rate: 0 });
  });

  it('is described in /openapi.json', async () => {
    const doc = await stack.rest('GET', '/openapi.json', { key: null });
    for (const path of ['/usage/summary', '/usage/keys/{id}', '/usage/timeseries', '/v1/usage', '/logs', '/limit-requests', '/api-keys/{id}/limit-requests']) {
      expect(doc.body.paths[path], path).toBeDefined();
    }
  });

  it('answers zeros and a full score for a range without calls', async () => {
    const res = await stack.rest('GET', '/usage/summary?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z', { key: ws.secret });
    expect(res.body).toEqual({ calls: 0, errors_4xx: 0, errors_5xx: 0, error_rate: 0, avg_latency_ms: 0, p95_latency_ms: 0, health_score: 100, health_parts: { errors: 100, latency: 100, webhooks: 100 } });
  });

  it('answers zeros for a range inside one minute, which holds no minute bucket', async () => {
    const res = await stack.rest('GET', `/usage/summary?from=${DAY}T10:03:10Z&to=${DAY}T10:03:50Z`, { key: ws.secret });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ calls: 0, errors_4xx: 0, errors_5xx: 0 });
  });

  it('names the field of a bad range', async () => {
    const swapped = await stack.rest('GET', '/usage/summary?from=2026-10-02T00:00:00Z&to=2026-10-01T00:00:00Z', { key: ws.secret });
    expect(swapped.status).toBe(400);
    expect(swapped.body.error).toMatchObject({ code: 'invalid_input', field: 'to' });
    const garbage = await stack.rest('GET', '/usage/summary?from=yesterday', { key: ws.secret });
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.field).toBe('from');
  });

  it('needs usage:read', async () => {
    const noScope = await stack.workspace(['products:read']);
    expect((await stack.rest('GET', '/usage/summary', { key: noScope.secret })).status).toBe(403);
    expect((await stack.rest('GET', '/usage/summary', { key: null })).status).toBe(401);
  });

  it('is the same through tRPC', async () => {
    const caller = await stack.caller(ws.secret);
    const s = await caller.usage.summary({ from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' });
    expect(s).toMatchObject({ calls: 20, p95LatencyMs: 200, healthScore: 50 });
  });
});

describe('GET /usage/timeseries', () => {
  it('gives one point per day with gaps filled', async () => {
    const res = await stack.rest('GET', '/usage/timeseries?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&interval=day', { key: ws.secret });
    expect(res.status).toBe(200);
    expect(res.body.points).toHaveLength(31);
    const busy = res.body.points.filter((p: { calls: number }) => p.calls > 0);
    expect(busy).toEqual([{ t: `${DAY}T00:00:00.000Z`, calls: 20, errors_4xx: 2, errors_5xx: 1, avg_latency_ms: 90, p95_latency_ms: 200 }]);
  });

  it('is the same through tRPC, in camelCase', async () => {
    const caller = await stack.caller(ws.secret);
    const series = await caller.usage.timeseries({ from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z', interval: 'day' });
    expect(series.points.filter((p) => p.calls > 0)).toEqual([{ t: `${DAY}T00:00:00.000Z`, calls: 20, errors4xx: 2, errors5xx: 1, avgLatencyMs: 90, p95LatencyMs: 200 }]);
  });

  it('gives one point per hour, for one key', async () => {
    const res = await stack.rest('GET', `/usage/timeseries?from=${DAY}T00:00:00Z&to=2026-10-06T00:00:00Z&interval=hour&key_id=${ws.keyId}`, { key: ws.secret });
    expect(res.body.points).toHaveLength(24);
    expect(res.body.points[10]).toMatchObject({ t: `${DAY}T10:00:00.000Z`, calls: 20 });
    const none = await stack.rest('GET', `/usage/timeseries?from=${DAY}T00:00:00Z&to=2026-10-06T00:00:00Z&interval=hour&key_id=someone-else`, { key: ws.secret });
    expect(none.body.points.every((p: { calls: number }) => p.calls === 0)).toBe(true);
  });

  it('refuses an unknown interval and too many points', async () => {
    const bad = await stack.rest('GET', '/usage/timeseries?interval=minute', { key: ws.secret });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('interval');
    const many = await stack.rest('GET', '/usage/timeseries?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour', { key: ws.secret });
    expect(many.status).toBe(400);
  });
});

describe('GET /usage/keys/{id}', () => {
  it('shows calls today and this month, rate limits as used now, credits left', async () => {
    const created = await stack.rest('POST', '/api-keys', {
      key: ws.secret,
      body: { id: 'metered', permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 10, window_seconds: 60 }], credits: { remaining: 100 } },
    });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const v = await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { key: created.body.api_key } });
      expect(v.body.code).toBe('VALID');
    }
    await stack.deps.usage.flush();
    const res = await stack.rest('GET', '/usage/keys/metered', { key: ws.secret });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ calls_today: 3, calls_month: 3, credits_remaining: 97 });
    expect(res.body.rate_limits).toEqual([expect.objectContaining({ name: 'per-minute', limit: 10, window_seconds: 60, used: 3, remaining: 7 })]);
  });

  it('is 404 for a key of another workspace, and for none', async () => {
    expect((await stack.rest('GET', `/usage/keys/${other.keyId}x`, { key: ws.secret })).status).toBe(404);
    const created = await stack.rest('POST', '/api-keys', { key: other.secret, body: { id: 'theirs' } });
    expect(created.status).toBe(201);
    const res = await stack.rest('GET', '/usage/keys/theirs', { key: ws.secret });
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).not.toContain(other.workspaceId);
  });

  it('answers many keys at once through tRPC usage.keys, leaving out keys not of the workspace', async () => {
    const caller = await stack.caller(ws.secret);
    const many = await caller.usage.keys({ ids: ['metered', ws.keyId, 'theirs', 'no-such-key'] });
    expect(Object.keys(many).sort()).toEqual([ws.keyId, 'metered'].sort());
    // The same figures as the one-key route, in core's camelCase (REST answers them in snake_case).
    expect(snakeKeysDeep(many['metered'])).toEqual((await stack.rest('GET', '/usage/keys/metered', { key: ws.secret })).body);
    expect(many['metered']).toMatchObject({ callsToday: 3, creditsRemaining: 97, rateLimits: [expect.objectContaining({ windowSeconds: 60, used: 3, remaining: 7 })] });
    expect(await caller.usage.keys({ ids: [] })).toEqual({});
    await expect(caller.usage.keys({ ids: Array.from({ length: 501 }, (_, i) => `k${i}`) })).rejects.toThrow(/at most 500 keys/);
  });
});
