import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysUsage } from '../../core/usage/key-usage.js';
import { startStack, type Stack } from '../harness.js';

// Warnings that match what happened (issue #18, item 8): per key, passed vs refused verifications
// over time, refusals in the per-key usage table, and the last window that warned kept after it
// rolled over, with its refusals counted.

let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };
let limited: string;

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  admin = await stack.workspace(['admin']);
  const res = await stack.rest('POST', '/api-keys', {
    key: admin.secret,
    // A window long enough that the calls below all fall in one, wherever the minute stands.
    body: { id: 'limited', permissions: ['products:read'], rate_limits: [{ name: 'per-hour', limit: 3, window_seconds: 3600 }] },
  });
  expect(res.status).toBe(201);
  limited = res.body.api_key as string;
});
afterAll(() => stack.close());

const verify = (secret: string) => stack.rest('POST', '/v1/keys/verify', { key: admin.secret, body: { key: secret } });

describe('a key’s passed and refused verifications', () => {
  it('history buckets count passed and refused calls, refusals by code; the usage table counts refusals', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 7; i++) codes.push((await verify(limited)).body.code);
    expect(codes).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    // A key created disabled: its refusals have another code.
    const off = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: 'off', permissions: ['products:read'], enabled: false } });
    expect(off.status).toBe(201);
    expect((await verify(off.body.api_key as string)).body.code).toBe('DISABLED');
    await stack.deps.usage.flush();

    const caller = await stack.caller(admin.secret);
    const history = await caller.usage.keyHistory({ keyId: 'limited', range: '1h' });
    expect(history).toMatchObject({ keyId: 'limited', range: '1h', bucketSeconds: 60 });
    expect(history.buckets).toHaveLength(60);
    const total = history.buckets.reduce(
      (t, b) => {
        for (const [code, n] of Object.entries(b.byCode)) t.byCode[code] = (t.byCode[code] ?? 0) + n;
        return { passed: t.passed + b.passed, refused: t.refused + b.refused, byCode: t.byCode };
      },
      { passed: 0, refused: 0, byCode: {} as Record<string, number> },
    );
    expect(total).toEqual({ passed: 3, refused: 4, byCode: { RATE_LIMITED: 4 } });
    // Oldest first, one bucket a minute, the last one the minute in progress.
    const last = new Date(history.buckets.at(-1)!.at).getTime();
    expect(last).toBe(Math.floor(Date.now() / 60_000) * 60_000);
    expect(new Date(history.buckets[1]!.at).getTime() - new Date(history.buckets[0]!.at).getTime()).toBe(60_000);

    const day = await caller.usage.keyHistory({ keyId: 'limited', range: '24h' });
    expect(day).toMatchObject({ bucketSeconds: 3600 });
    expect(day.buckets).toHaveLength(24);
    expect(day.buckets.at(-1)).toMatchObject({ passed: 3, refused: 4 });
    expect((await caller.usage.keyHistory({ keyId: 'off', range: '1h' })).buckets.at(-1)).toEqual(expect.objectContaining({ passed: 0, refused: 1, byCode: { DISABLED: 1 } }));

    const usage = await caller.usage.keys({ ids: ['limited', 'off'] });
    expect(usage['limited']).toMatchObject({ callsToday: 7, refusedToday: 4, refusedMonth: 4 });
    expect(usage['off']).toMatchObject({ callsToday: 1, refusedToday: 1 });

    const rest = await stack.rest('GET', '/usage/keys/limited/history?range=24h', { key: admin.secret });
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ key_id: 'limited', range: '24h', bucket_seconds: 3600 });
    // Verification codes are data: kept as they are.
    expect(rest.body.buckets.at(-1)).toEqual({ at: day.buckets.at(-1)!.at, passed: 3, refused: 4, by_code: { RATE_LIMITED: 4 } });
    const restUsage = await stack.rest('GET', '/usage/keys/limited', { key: admin.secret });
    expect(restUsage.body).toMatchObject({ refused_today: 4, refused_month: 4 });
  });

  it('answers 404 for another workspace’s key and 400 naming range for a range it does not draw', async () => {
    const other = await stack.workspace(['admin']);
    const caller = await stack.caller(other.secret);
    await expect(caller.usage.keyHistory({ keyId: 'limited', range: '1h' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await stack.rest('GET', '/usage/keys/limited/history', { key: other.secret })).status).toBe(404);
    const bad = await stack.rest('GET', '/usage/keys/limited/history?range=1y', { key: admin.secret });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('range');
  });
});

describe('rate-limit warnings', () => {
  it('say "exceeded" with the refusals of the window that warned, and keep saying it after the window rolled over', async () => {
    const caller = await stack.caller(admin.secret);
    const now = (await caller.usage.keys({ ids: ['limited'] }))['limited']!;
    expect(now.rateWarnings).toHaveLength(1);
    const warning = now.rateWarnings[0]!;
    expect(warning).toMatchObject({ limitName: 'per-hour', state: 'exceeded', used: 3, limit: 3, refused: 4 });
    expect(new Date(warning.windowEnd).getTime() - new Date(warning.windowStart!).getTime()).toBe(3_600_000);

    // A whole window after it ended (the sliding window weighs the previous one in until then): the
    // live counter is empty, the warning still stands.
    const later = new Date(new Date(warning.windowEnd).getTime() + 3_600_000 + 60_000);
    const rolled = (await keysUsage(stack.orm.em.fork(), admin.workspaceId, ['limited'], later))['limited']!;
    expect(rolled.rateLimits[0]).toMatchObject({ name: 'per-hour', used: 0 });
    expect(rolled.rateWarnings).toEqual([warning]);

    const rest = await stack.rest('GET', '/usage/keys/limited', { key: admin.secret });
    expect(rest.body.rate_warnings).toEqual([
      { limit_name: 'per-hour', state: 'exceeded', used: 3, limit: 3, refused: 4, window_start: warning.windowStart, window_end: warning.windowEnd },
    ]);
  });

  it('a key that only came near its limit says approaching, with no refusals', async () => {
    const res = await stack.rest('POST', '/api-keys', {
      key: admin.secret,
      body: { id: 'near', permissions: ['products:read'], rate_limits: [{ name: 'per-hour', limit: 5, window_seconds: 3600 }] },
    });
    for (let i = 0; i < 4; i++) expect((await verify(res.body.api_key as string)).body.code).toBe('VALID');
    await stack.deps.usage.flush();
    const usage = (await (await stack.caller(admin.secret)).usage.keys({ ids: ['near'] }))['near']!;
    expect(usage.rateWarnings).toEqual([expect.objectContaining({ limitName: 'per-hour', state: 'approaching', used: 4, limit: 5, refused: 0 })]);
    expect(usage.refusedToday).toBe(0);
  });
});

describe('a limit-increase request', () => {
  it('for no more than the current limit is a 400 naming requestedLimit, and nothing is filed', async () => {
    const res = await stack.rest('POST', '/api-keys', {
      key: admin.secret,
      body: { id: 'asks', permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 100, window_seconds: 60 }] },
    });
    expect(res.status).toBe(201);
    for (const requested of [50, 100]) {
      const rest = await stack.rest('POST', '/api-keys/asks/limit-requests', { key: admin.secret, body: { limit_name: 'per-minute', requested_limit: requested } });
      expect(rest.status).toBe(400);
      expect(rest.body.error.field).toBe('requested_limit');
      expect(rest.body.error.message).toContain('100');
    }
    const caller = await stack.caller(admin.secret);
    await expect(caller.limits.request({ kind: 'key_limit', keyId: 'asks', limitName: 'per-minute', requestedLimit: 99 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await caller.limits.requests({})).limitRequests.filter((r) => r.keyId === 'asks')).toEqual([]);
    // More than the current limit, or a limit the key does not have yet, is a request like any other.
    expect((await stack.rest('POST', '/api-keys/asks/limit-requests', { key: admin.secret, body: { limit_name: 'per-minute', requested_limit: 101 } })).status).toBe(201);
    expect((await stack.rest('POST', '/api-keys/asks/limit-requests', { key: admin.secret, body: { limit_name: 'per-day', requested_limit: 1, window_seconds: 86400 } })).status).toBe(201);
  });
});
