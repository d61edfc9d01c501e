import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * docs/plans.md's worked example, over REST as written there (the quota scaled down from 10,000 to
 * 10 calls): a free and a pro plan, a customer at 80 %, asking for pro, approved with the plan change.
 */
let stack: Stack;
beforeAll(async () => {
  // Usage is flushed by the test, so the quota warning is raised when the test says.
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
});
afterAll(() => stack.close());

const events = async (type: string) =>
  (await stack.orm.em.fork().execute<{ payload: Record<string, unknown> }[]>(`select payload from event where workspace_id = 'trebol' and type = ?`, [type])).map((e) => e.payload);

it('free and pro, a customer at 80 %, asking for more, approved with a plan change', async () => {
  const free = await stack.rest('POST', '/plans', {
    body: {
      id: 'free',
      name: 'Free',
      key_rate_limits: [{ limit: 100, window_seconds: 60 }],
      workspace_rate_limits: [{ limit: 300, window_seconds: 60 }],
      monthly_calls: 10,
      monthly_credits: null,
      max_keys: 3,
      max_webhook_endpoints: 1,
      grantable_scopes: ['products:read'],
      log_retention_days: 7,
      default: true,
    },
  });
  expect(free.status).toBe(201);
  const pro = await stack.rest('POST', '/plans', {
    body: {
      id: 'pro',
      name: 'Pro',
      key_rate_limits: [{ limit: 1000, window_seconds: 60 }],
      workspace_rate_limits: [{ limit: 5000, window_seconds: 60 }],
      monthly_calls: 1_000_000,
      max_keys: 50,
      max_webhook_endpoints: 10,
      grantable_scopes: ['products:*', 'orders:*'],
      log_retention_days: 90,
    },
  });
  expect(pro.status).toBe(201);

  // Trebol signs up on the default plan.
  const signup = await stack.rest('POST', '/workspaces', { body: { id: 'trebol', name: 'Trebol' } });
  expect(signup.status).toBe(201);
  const admin: string = signup.body.admin_key.api_key;
  expect(await events('workspace.created')).toEqual([{ workspace_id: 'trebol', name: 'Trebol', plan_id: 'free', actor_key_id: 'bootstrap' }]);

  // A faster key than free allows is refused, naming why.
  const fast = await stack.rest('POST', '/api-keys', { key: admin, body: { id: 'checkout', rate_limits: [{ limit: 500, window_seconds: 60 }] } });
  expect(fast.status).toBe(400);
  expect(fast.body.error).toEqual({
    code: 'invalid_input',
    field: 'rate_limits[0]',
    message: "rate_limits[0]: 500 per 60 s is above plan 'free''s ceiling of 100 per 60 s; ask for a higher plan",
  });
  const checkout = await stack.rest('POST', '/api-keys', { key: admin, body: { id: 'checkout', permissions: ['products:read'] } });
  expect(checkout.status).toBe(201);

  // Eight verifications of ten: 80 %.
  for (let i = 0; i < 8; i++) {
    const v = await stack.rest('POST', '/v1/keys/verify', { key: admin, body: { key: checkout.body.api_key } });
    expect(v.body.code).toBe('VALID');
  }
  await stack.deps.usage.flush();
  const month = new Date().toISOString().slice(0, 7);
  expect(await events('usage.quota.approaching')).toEqual([expect.objectContaining({ workspace_id: 'trebol', plan_id: 'free', month, limit: 10, used: 8, threshold: 80 })]);
  const own = await stack.rest('GET', '/workspace/limits', { key: admin });
  expect(own.body.month).toMatchObject({ month, calls: 8, quota: 10, quota_state: 'approaching' });

  // Trebol asks for pro.
  const asked = await stack.rest('POST', '/limit-requests', { key: admin, body: { kind: 'plan', plan: 'pro', reason: 'Launch next week; we expect 300k calls a month' } });
  expect(asked.status, JSON.stringify(asked.body)).toBe(201);
  expect(asked.body).toMatchObject({ workspace_id: 'trebol', kind: 'plan', requested_plan: 'pro', status: 'pending' });
  expect(await events('limits.request.created')).toHaveLength(1);

  // The operator sees it in its queue and approves it with the plan change.
  const queue = await stack.rest('GET', '/limit-requests?status=pending');
  expect(queue.body.limit_requests.map((r: { id: string }) => r.id)).toContain(asked.body.id);
  const approved = await stack.rest('POST', `/limit-requests/${asked.body.id}/approve`, { body: { plan: 'pro', note: 'Welcome to Pro' } });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  expect(approved.body).toMatchObject({ status: 'approved', approved_plan: 'pro', decided_by: 'bootstrap', decision_note: 'Welcome to Pro' });
  expect(await events('limits.request.decided')).toEqual([expect.objectContaining({ workspace_id: 'trebol', status: 'approved', approved_plan: 'pro' })]);

  const detail = await stack.rest('GET', '/workspaces/trebol');
  expect(detail.body).toMatchObject({
    plan_id: 'pro',
    plan_name: 'Pro',
    overrides: {},
    limits: { plan_id: 'pro', monthly_calls: 1_000_000, key_rate_limits: [{ limit: 1000, window_seconds: 60 }] },
    month: { month, calls: 8, quota: 1_000_000, quota_state: 'ok' },
  });
  const audit = await stack.rest('GET', '/audit-log?action=workspace.plan_changed', { key: admin });
  expect(audit.body.entries[0]).toMatchObject({ changes: { plan: { from: 'free', to: 'pro' } } });
  // The faster key is now within the plan.
  expect((await stack.rest('POST', '/api-keys', { key: admin, body: { id: 'fast', rate_limits: [{ limit: 500, window_seconds: 60 }] } })).status).toBe(201);
});
