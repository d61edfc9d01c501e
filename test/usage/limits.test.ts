import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LimitWatcher } from '../../core/usage/limits.js';
import { startStack, type Stack } from '../harness.js';
import { clearOfWindowEdge } from '../window-edge.js';

let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  admin = await stack.workspace(['admin']);
});
afterAll(() => stack.close());

async function createKey(body: Record<string, unknown>, key = admin.secret): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key, body });
  expect(res.status).toBe(201);
  return res.body.api_key as string;
}

const verify = (secret: string, cost?: number) =>
  stack.rest('POST', '/v1/keys/verify', { key: admin.secret, body: { key: secret, ...(cost !== undefined ? { cost } : {}) } });

async function events(type: string) {
  return stack.orm.em
    .fork()
    .execute<{ payload: Record<string, unknown>; idempotency_key: string }[]>(
      `select payload, idempotency_key from event where workspace_id = ? and type = ? order by created_at`,
      [admin.workspaceId, type],
    );
}

describe('limit warnings', () => {
  it('raises approaching at 80 % and exceeded at 100 % of a rate limit, once per window', async () => {
    const secret = await createKey({ id: 'limited', permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 5, window_seconds: 60 }] });
    await clearOfWindowEdge(60);
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push((await verify(secret)).body.code);
    await stack.deps.usage.flush();
    expect(await events('usage.rate_limit.approaching')).toEqual([]);
    for (let i = 0; i < 5; i++) codes.push((await verify(secret)).body.code);
    await stack.deps.usage.flush();
    await stack.deps.usage.flush();
    expect(codes).toEqual(['VALID', 'VALID', 'VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    const approaching = await events('usage.rate_limit.approaching');
    const exceeded = await events('usage.rate_limit.exceeded');
    expect(approaching).toHaveLength(1);
    expect(exceeded).toHaveLength(1);
    expect(approaching[0]!.payload).toMatchObject({ key_id: 'limited', limit_name: 'per-minute', limit: 5, window_seconds: 60, threshold: 80 });
    expect(exceeded[0]!.payload).toMatchObject({ key_id: 'limited', limit_name: 'per-minute', limit: 5, remaining: 0, threshold: 100 });
  });

  it('does not raise the same crossing twice from another API process', async () => {
    const other = new LimitWatcher({ em: () => stack.orm.em.fork() as never, temporal: stack.temporal, log: stack.deps.log });
    const [first] = await events('usage.rate_limit.exceeded');
    const reset = Number(String(first!.idempotency_key).split(':').pop());
    other.observe({ workspaceId: admin.workspaceId, keyId: 'limited', ratelimit: { limit: 5, remaining: 0, reset } });
    expect(await other.raisePending()).toBe(0);
    expect(await events('usage.rate_limit.exceeded')).toHaveLength(1);
  });

  it('raises credits.low at 80 % and at 100 % of the quota, once each', async () => {
    const secret = await createKey({ id: 'metered', permissions: ['products:read'], credits: { remaining: 10, refill: { amount: 10, interval: 'monthly' } } });
    expect((await verify(secret, 7)).body).toMatchObject({ code: 'VALID', credits: 3 });
    await stack.deps.usage.flush();
    expect(await events('credits.low')).toEqual([]);
    expect((await verify(secret, 1)).body).toMatchObject({ code: 'VALID', credits: 2 });
    expect((await verify(secret, 1)).body).toMatchObject({ code: 'VALID', credits: 1 });
    await stack.deps.usage.flush();
    expect((await events('credits.low')).map((e) => e.payload['threshold'])).toEqual([80]);
    expect((await verify(secret, 1)).body).toMatchObject({ code: 'VALID', credits: 0 });
    expect((await verify(secret, 1)).body).toMatchObject({ code: 'USAGE_EXCEEDED', credits: 0 });
    await stack.deps.usage.flush();
    const low = await events('credits.low');
    expect(low.map((e) => e.payload['threshold'])).toEqual([80, 100]);
    expect(low[1]!.payload).toMatchObject({ key_id: 'metered', credits_remaining: 0, quota: 10 });
  });
});

describe('limit increase requests', () => {
  let writer: string;
  let reader: string;
  beforeAll(async () => {
    await createKey({ id: 'busy', permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 5, window_seconds: 60 }] });
    writer = await createKey({ id: 'writer', permissions: ['write'] });
    reader = await createKey({ id: 'reader', permissions: ['read-only'] });
  });

  it('a key with usage:write asks; the workspace admin cannot decide (403); the provider approves and the limit changes', async () => {
    const denied = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: reader, body: { limit_name: 'per-minute', requested_limit: 100 } });
    expect(denied.status).toBe(403);

    const asked = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: writer, body: { limit_name: 'per-minute', requested_limit: 100, reason: 'launch week' } });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({
      kind: 'key_limit',
      workspace_id: admin.workspaceId,
      key_id: 'busy',
      limit_name: 'per-minute',
      current_limit: 5,
      requested_limit: 100,
      window_seconds: 60,
      status: 'pending',
      requested_by: 'writer',
      reason: 'launch week',
    });
    expect(Date.parse(asked.body.expires_at) - Date.parse(asked.body.created_at)).toBe(stack.config.GATEHOUSE_LIMIT_REQUEST_TTL_DAYS * 86_400_000);

    const again = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: writer, body: { limit_name: 'per-minute', requested_limit: 200 } });
    expect(again.status).toBe(409);

    const listed = await stack.rest('GET', '/limit-requests?status=pending', { key: reader });
    expect(listed.status).toBe(200);
    expect(listed.body.limit_requests.map((r: { id: string }) => r.id)).toEqual([asked.body.id]);

    expect((await stack.rest('POST', `/limit-requests/${asked.body.id}/approve`, { key: writer })).status).toBe(403);
    const own = await stack.rest('POST', `/limit-requests/${asked.body.id}/approve`, { key: admin.secret, body: { note: 'ok for launch' } });
    expect(own.status).toBe(403);
    expect(own.body.error.message).toContain('limits:approve');
    const approved = await stack.rest('POST', `/limit-requests/${asked.body.id}/approve`, { key: stack.bootstrapKey, body: { note: 'ok for launch' } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: 'bootstrap', decision_note: 'ok for launch', approved_limit: null });

    const key = await stack.rest('GET', '/api-keys/busy', { key: admin.secret });
    expect(key.body.rate_limits).toEqual([{ name: 'per-minute', limit: 100, window_seconds: 60 }]);
    const usage = await stack.rest('GET', '/usage/keys/busy', { key: admin.secret });
    expect(usage.body.rate_limits[0]).toMatchObject({ limit: 100, remaining: 100 });

    expect((await stack.rest('POST', `/limit-requests/${asked.body.id}/decline`, { key: stack.bootstrapKey, body: { note: 'too late' } })).status).toBe(409);
  });

  it('declining leaves the key as it was; a new limit needs its window', async () => {
    const noWindow = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: writer, body: { limit_name: 'per-day', requested_limit: 10_000 } });
    expect(noWindow.status).toBe(400);
    expect(noWindow.body.error.field).toBe('window_seconds');
    const bad = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: writer, body: { limit_name: 'per-day', requested_limit: -1, window_seconds: 86400 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('requested_limit');

    const asked = await stack.rest('POST', '/api-keys/busy/limit-requests', { key: writer, body: { limit_name: 'per-day', requested_limit: 10_000, window_seconds: 86400 } });
    expect(asked.status).toBe(201);
    expect(asked.body.current_limit).toBeNull();
    const noNote = await stack.rest('POST', `/limit-requests/${asked.body.id}/decline`, { key: stack.bootstrapKey, body: {} });
    expect(noNote.status).toBe(400);
    expect(noNote.body.error.field).toBe('note');
    const declined = await stack.rest('POST', `/limit-requests/${asked.body.id}/decline`, { key: stack.bootstrapKey, body: { note: 'not this month' } });
    expect(declined.body).toMatchObject({ status: 'declined', decision_note: 'not this month' });
    const key = await stack.rest('GET', '/api-keys/busy', { key: admin.secret });
    expect(key.body.rate_limits).toEqual([{ name: 'per-minute', limit: 100, window_seconds: 60 }]);
  });

  it('works through tRPC with the same permissions', async () => {
    const asWriter = await stack.caller(writer);
    const req = await asWriter.limits.request({ kind: 'key_limit', keyId: 'busy', limitName: 'burst', requestedLimit: 20, windowSeconds: 1 });
    await expect(asWriter.limits.approve({ id: req.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect((await stack.caller(admin.secret)).limits.approve({ id: req.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const asOperator = await stack.caller();
    expect((await asOperator.limits.approve({ id: req.id })).status).toBe('approved');
    const key = await stack.rest('GET', '/api-keys/busy', { key: admin.secret });
    expect(key.body.rate_limits).toContainEqual({ name: 'burst', limit: 20, window_seconds: 1 });
  });

  it('lists newest first in pages, over REST and tRPC', async () => {
    const all = await stack.rest('GET', '/limit-requests', { key: admin.secret });
    expect(all.body.next_cursor).toBeNull();
    const ids = (all.body.limit_requests as { id: string }[]).map((r) => r.id);
    expect(ids).toHaveLength(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await stack.rest('GET', `/limit-requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: admin.secret });
      expect(res.status).toBe(200);
      seen.push(...(res.body.limit_requests as { id: string }[]).map((r) => r.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);

    const caller = await stack.caller(admin.secret);
    const first = await caller.limits.requests({ limit: 2 });
    expect(first.limitRequests.map((r) => r.id)).toEqual(ids.slice(0, 2));
    const rest = await caller.limits.requests({ limit: 2, cursor: first.nextCursor! });
    expect(rest).toMatchObject({ limitRequests: [{ id: ids[2] }], nextCursor: null });

    const foreign = await stack.rest('GET', '/limit-requests?cursor=notacursor', { key: admin.secret });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.field).toBe('cursor');
  });

  it('another workspace sees nothing and can decide nothing', async () => {
    const outsider = await stack.workspace(['admin']);
    const [pending] = (await stack.rest('GET', '/limit-requests', { key: admin.secret })).body.limit_requests;
    expect((await stack.rest('GET', '/limit-requests', { key: outsider.secret })).body.limit_requests).toEqual([]);
    expect((await stack.rest('POST', `/limit-requests/${pending.id}/approve`, { key: outsider.secret })).status).toBe(403);
    expect((await stack.rest('POST', '/api-keys/busy/limit-requests', { key: outsider.secret, body: { limit_name: 'per-minute', requested_limit: 9 } })).status).toBe(404);
  });
});
