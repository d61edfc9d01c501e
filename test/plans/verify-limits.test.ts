import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { creditsOf, insertKey } from '../verify/keys.js';
import { clearOfWindowEdge } from '../window-edge.js';
import { notifyWorkspaceLimitsChanged } from '../../core/plans/notify.js';
import { assignPlan, hammer, insertPlan, nextMonth, until, verifyAt } from './verify-helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

/** A workspace on `plan`, with its admin (the verifying service's key). */
async function customer(plan: Parameters<typeof insertPlan>[1]) {
  const ws = await stack.workspace(['admin']);
  const planId = await insertPlan(stack, plan);
  await assignPlan(stack, ws.workspaceId, planId);
  return { ...ws, planId };
}

describe('verification enforces the workspace plan', () => {
  it('shares the workspace rate limit between all its keys, naming scope and limit when it refuses', async () => {
    const ws = await customer({ workspaceRateLimits: [{ limit: 5, windowSeconds: 3600 }], monthlyCalls: 100 });
    const a = await insertKey(stack, { workspaceId: ws.workspaceId });
    const b = await insertKey(stack, { workspaceId: ws.workspaceId, rateLimits: [{ name: 'own', limit: 100, windowSeconds: 3600 }] });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await verifyAt(stack.url, ws.secret, { key: a.secret }));
    for (let i = 0; i < 4; i++) answers.push(await verifyAt(stack.url, ws.secret, { key: b.secret }));
    expect(answers.map((r) => r.code)).toEqual(['VALID', 'VALID', 'VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    // The workspace's limit, with less room than key b's own, is the one reported.
    expect(answers[4]!.ratelimit).toMatchObject({ scope: 'workspace', name: 'workspace:3600s', limit: 5, remaining: 0 });
    expect(answers[5]!.ratelimit).toMatchObject({ scope: 'workspace', name: 'workspace:3600s', limit: 5, remaining: 0 });
    expect(answers[0]!.quota).toMatchObject({ name: 'monthly_calls', limit: 100, remaining: 99 });

    // Key b's own limit was given back each time the workspace refused: 1 taken, not 4.
    const [row] = await stack.orm.em.fork().execute<{ count: number }[]>(`select sum(count)::int as count from rate_limit_counter where key_pk = ?`, [b.pk]);
    expect(row!.count).toBe(1);
    // The month counts the 5 calls that went through: each refused one's call was given back.
    const [month] = await stack.orm.em.fork().execute<{ calls: string }[]>(`select calls from workspace_quota where workspace_id = ?`, [ws.workspaceId]);
    expect(Number(month!.calls)).toBe(5);
  });

  it('counts the monthly quota exactly in one process: N allowed, then USAGE_EXCEEDED with the quota', async () => {
    const ws = await customer({ monthlyCalls: 25 });
    const a = await insertKey(stack, { workspaceId: ws.workspaceId });
    const b = await insertKey(stack, { workspaceId: ws.workspaceId });
    const [onA, onB] = await Promise.all([hammer(stack.url, ws.secret, a.secret, 20, 10), hammer(stack.url, ws.secret, b.secret, 20, 10)]);
    const all = [...onA, ...onB];
    expect(all.filter((r) => r.code === 'VALID')).toHaveLength(25);
    const refused = all.filter((r) => r.code !== 'VALID');
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expect(r.code).toBe('USAGE_EXCEEDED');
      expect(r.quota).toEqual({ scope: 'workspace', name: 'monthly_calls', limit: 25, remaining: 0, reset: nextMonth() });
    }
    const remaining = all.filter((r) => r.code === 'VALID').map((r) => r.quota!.remaining).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: 25 }, (_, i) => i));
    const [row] = await stack.orm.em.fork().execute<{ calls: string }[]>(`select calls from workspace_quota where workspace_id = ?`, [ws.workspaceId]);
    expect(Number(row!.calls)).toBe(25);
  });

  it("holds a key made before the plan, without limits of its own, to the plan's per-key ceiling", async () => {
    const ws = await stack.workspace(['admin']);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    const loose = await insertKey(stack, { workspaceId: ws.workspaceId, rateLimits: [{ name: 'per-hour', limit: 1000, windowSeconds: 3600 }] });
    const tight = await insertKey(stack, { workspaceId: ws.workspaceId, rateLimits: [{ name: 'per-minute', limit: 1, windowSeconds: 60 }] });
    // Cached before the plan exists: the notification must reach the cache.
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).ratelimit).toBeNull();
    const planId = await insertPlan(stack, { keyRateLimits: [{ limit: 3, windowSeconds: 3600 }] });
    await assignPlan(stack, ws.workspaceId, planId);

    await clearOfWindowEdge(3600);
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(await verifyAt(stack.url, ws.secret, { key: key.secret }));
    expect(codes.map((r) => r.code)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED']);
    expect(codes[3]!.ratelimit).toMatchObject({ scope: 'key', name: 'plan:3600s', limit: 3, remaining: 0 });
    // A key whose own limit goes beyond the ceiling is held to it as well.
    const onLoose = [];
    for (let i = 0; i < 4; i++) onLoose.push((await verifyAt(stack.url, ws.secret, { key: loose.secret })).code);
    expect(onLoose).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED']);
    // 1 a minute does not imply 3 an hour (60 > 3): that key is held to both, and its own refuses first.
    await clearOfWindowEdge(60);
    const onTight = await verifyAt(stack.url, ws.secret, { key: tight.secret });
    expect(onTight.code).toBe('VALID');
    expect((await verifyAt(stack.url, ws.secret, { key: tight.secret })).ratelimit).toMatchObject({ scope: 'key', name: 'per-minute' });

    // Lifting the ceiling by an override takes effect at once.
    await assignPlan(stack, ws.workspaceId, planId, { keyRateLimits: [] });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).code).toBe('VALID');
  });

  it('charges the monthly credit grant with the cost, together with the key’s own credits', async () => {
    const ws = await customer({ monthlyCredits: 10 });
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    const r1 = await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 4 });
    expect(r1).toMatchObject({ code: 'VALID', quota: { scope: 'workspace', name: 'monthly_credits', limit: 10, remaining: 6 } });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 4 })).quota!.remaining).toBe(2);
    const over = await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 4 });
    expect(over).toMatchObject({ code: 'USAGE_EXCEEDED', credits: null, quota: { name: 'monthly_credits', limit: 10, remaining: 2 } });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 2 })).code).toBe('VALID');
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret, cost: 0 })).code).toBe('VALID');

    // A metered key out of its own credits: refused, and the workspace's month gets its charge back.
    const ws2 = await customer({ monthlyCredits: 100, monthlyCalls: 50 });
    const metered = await insertKey(stack, { workspaceId: ws2.workspaceId, credits: 5 });
    expect(await verifyAt(stack.url, ws2.secret, { key: metered.secret, cost: 5 })).toMatchObject({ code: 'VALID', credits: 0, quota: { name: 'monthly_calls', remaining: 49 } });
    const broke = await verifyAt(stack.url, ws2.secret, { key: metered.secret, cost: 5 });
    expect(broke).toMatchObject({ code: 'USAGE_EXCEEDED', credits: 0, quota: { name: 'monthly_calls', remaining: 49 } });
    expect(await creditsOf(stack, metered.pk)).toBe(0);
    const [row] = await stack.orm.em.fork().execute<{ calls: string; credits: string }[]>(
      `select calls, credits from workspace_quota where workspace_id = ?`,
      [ws2.workspaceId],
    );
    expect({ calls: Number(row!.calls), credits: Number(row!.credits) }).toEqual({ calls: 1, credits: 5 });
  });

  it('costs a workspace without a plan no query beyond what the key needs', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).code).toBe('VALID');
    const before = stack.deps.verifier.queries;
    for (let i = 0; i < 20; i++) expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).quota).toBeNull();
    expect(stack.deps.verifier.queries - before).toBe(0);
  });

  it('counts nothing, and fails nothing, for a workspace deleted while its key was cached', async () => {
    const quota = stack.deps.verifier.quota;
    await expect(quota.charge('ws-gone', 10, null, 1)).resolves.toMatchObject({ allowed: true, calls: 0 });
    await expect(quota.charge('ws-gone', 10, 100, 1, { name: 'workspace:60s', limit: 5, windowSeconds: 60 })).resolves.toMatchObject({ allowed: true });
  });

  it('misses no plan change while its listener reconnects', async () => {
    const ws = await customer({ monthlyCalls: 1000 });
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).quota).toMatchObject({ limit: 1000 });
    const verifier = stack.deps.verifier;
    expect(verifier.limits.peek(ws.workspaceId)).toBeDefined();
    const sessions = verifier.listenerConnections;
    await stack.orm.em.fork().execute(
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'gatehouse-key-listener' and datname = current_database()`,
    );
    // Notified while nobody listens: the notification is lost, the change must not be.
    await stack.orm.em.fork().transactional(async (tx) => {
      await tx.execute(`update workspace set overrides = '{"monthlyCalls": 1}'::jsonb where id = ?`, [ws.workspaceId]);
      await notifyWorkspaceLimitsChanged(tx as never, ws.workspaceId);
    });
    await until(() => verifier.listenerConnections > sessions, 'the listener to reconnect');
    expect(await verifyAt(stack.url, ws.secret, { key: key.secret })).toMatchObject({ code: 'USAGE_EXCEEDED', quota: { limit: 1, remaining: 0 } });
  });

  it('applies the workspace rate limit to Gatehouse’s own API (429 naming the workspace) but not the monthly quota', async () => {
    const ws = await customer({ workspaceRateLimits: [{ limit: 3, windowSeconds: 3600 }], monthlyCalls: 1 });
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    // The one call of the month goes to a verification; management calls are not held to the quota.
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).code).toBe('VALID');
    expect((await verifyAt(stack.url, ws.secret, { key: key.secret })).code).toBe('USAGE_EXCEEDED');
    // Two verifications took 2 of the 3 shared requests; verification itself is not charged twice.
    const first = await stack.rest('GET', '/api-keys', { key: ws.secret });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-scope')).toBe('workspace');
    expect(first.headers.get('ratelimit-remaining')).toBe('0');
    const refused = await stack.rest('GET', '/api-keys', { key: ws.secret });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-scope')).toBe('workspace');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.body.error.message).toContain("workspace's rate limit 'workspace:3600s'");
    // tRPC too.
    const caller = await stack.caller(ws.secret);
    await expect(caller.keys.list({})).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    // Another workspace is untouched.
    const other = await stack.workspace(['admin']);
    expect((await stack.rest('GET', '/api-keys', { key: other.secret })).status).toBe(200);
  });
});
