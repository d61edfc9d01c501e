import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * Limit increases are the provider's to decide: a workspace never approves its own (not its admin,
 * not a key that somehow holds `limits:approve` over its own request), only an operator or the
 * provider's `limits:approve` support key, across workspaces; and an approval never lifts a key
 * beyond its plan's ceiling unless the same approval changes the plan.
 */
let stack: Stack;
let customer: { workspaceId: string; secret: string; keyId: string };
let support: { workspaceId: string; secret: string; keyId: string };
let writer: string;

async function create(body: Record<string, unknown>, key = customer.secret): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.api_key as string;
}

async function ask(key: string, body: Record<string, unknown>, path = '/limit-requests'): Promise<string> {
  const res = await stack.rest('POST', path, { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const stateOf = async () =>
  JSON.stringify(
    await stack.orm.em
      .fork()
      .execute(
        `select (select json_agg(json_build_object('id', id, 'rate_limits', rate_limits) order by pk) from api_key where workspace_id = ?) as keys,
                (select json_agg(json_build_object('id', id, 'status', status) order by id) from limit_request where workspace_id = ?) as requests,
                (select json_build_object('plan', plan_id, 'overrides', overrides) from workspace where id = ?) as workspace`,
        [customer.workspaceId, customer.workspaceId, customer.workspaceId],
      ),
  );

async function insertPlan(id: string, keyCeiling: { limit: number; windowSeconds: number }[]) {
  await stack.orm.em
    .fork()
    .execute(`insert into plan (id, name, key_rate_limits, workspace_rate_limits, is_default, created_at, updated_at) values (?, ?, ?, '[]', false, now(), now())`, [
      id,
      id,
      JSON.stringify(keyCeiling),
    ]);
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  customer = await stack.workspace(['admin']);
  // The provider's support role: reads and decides requests, nothing else (only an operator grants limits:approve).
  support = await stack.workspace(['limits:approve', 'usage:read']);
  writer = await create({ id: 'writer', permissions: ['write'] });
  await create({ id: 'worker', permissions: ['usage:read'], rate_limits: [{ name: 'per-minute', limit: 10, window_seconds: 60 }] });
  await insertPlan('small', [{ limit: 100, windowSeconds: 60 }]);
  await insertPlan('large', [{ limit: 10_000, windowSeconds: 60 }]);
  await stack.orm.em.fork().execute(`update plan set monthly_calls = 1000 where id = 'small'`);
  await stack.orm.em.fork().execute(`update workspace set plan_id = 'small' where id = ?`, [customer.workspaceId]);
});
afterAll(() => stack.close());

describe('a workspace never decides its own requests', () => {
  it("the workspace's admin gets 403 on approve, decline and the provider's queue, and nothing changes", async () => {
    const id = await ask(writer, { kind: 'key_limit', key_id: 'worker', limit_name: 'per-minute', requested_limit: 50 });
    const before = await stateOf();
    for (const decision of ['approve', 'decline']) {
      const res = await stack.rest('POST', `/limit-requests/${id}/${decision}`, { key: customer.secret, body: { note: 'mine' } });
      expect(res.status, `${decision}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.error.message).toContain("'limits:approve'");
    }
    const caller = await stack.caller(customer.secret);
    await expect(caller.limits.approve({ id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.limits.decline({ id, note: 'no' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.limits.queue({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await stateOf()).toBe(before);
    // The provider's support key decides it, from its own workspace.
    const approved = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: support.secret });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: support.keyId, workspace_id: customer.workspaceId });
  });

  it('the admin cannot grant itself limits:approve to get there', async () => {
    const res = await stack.rest('POST', '/api-keys', { key: customer.secret, body: { id: 'self-approver', permissions: ['limits:approve'] } });
    expect(res.status).toBe(403);
  });

  it('not even a decider decides what it filed itself', async () => {
    const operatorWs = (await stack.rest('GET', '/limit-requests?status=pending', { key: stack.bootstrapKey })).status;
    expect(operatorWs).toBe(200);
    // The operator files for a key of its own workspace, then may not approve it itself.
    await stack.rest('POST', '/api-keys', { body: { id: 'ops-worker', permissions: ['usage:read'], rate_limits: [{ name: 'per-minute', limit: 10, window_seconds: 60 }] } });
    const id = await ask(stack.bootstrapKey, { limit_name: 'per-minute', requested_limit: 20 }, '/api-keys/ops-worker/limit-requests');
    const own = await stack.rest('POST', `/limit-requests/${id}/approve`, {});
    expect(own.status, JSON.stringify(own.body)).toBe(403);
    expect(own.body.error.message).toContain('filed by this API key');
    expect((await stack.rest('POST', `/limit-requests/${id}/approve`, { key: support.secret })).status).toBe(200);
  });
});

describe('filing', () => {
  it('a quota or a plan needs limits:write (the admin); a key limit needs usage:write', async () => {
    for (const body of [{ kind: 'workspace_quota', requested_limit: 1000 }, { kind: 'plan', plan: 'large' }]) {
      const res = await stack.rest('POST', '/limit-requests', { key: writer, body });
      expect(res.status, JSON.stringify(res.body)).toBe(403);
      expect(res.body.error.message).toContain('limits:write');
    }
    const reader = await create({ id: 'reader', permissions: ['read-only'] });
    expect((await stack.rest('POST', '/limit-requests', { key: reader, body: { kind: 'key_limit', key_id: 'worker', limit_name: 'x', requested_limit: 5, window_seconds: 1 } })).status).toBe(403);
  });

  it('bad input is a 400 naming the field, and nothing is stored', async () => {
    const before = await stateOf();
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: 'plan', plan: 'no-such-plan' }, 'plan'],
      [{ kind: 'plan', plan: 'small' }, 'plan'],
      [{ kind: 'workspace_quota', requested_limit: 0 }, 'requested_limit'],
      [{ kind: 'workspace_quota', requested_limit: -5 }, 'requested_limit'],
      [{ kind: 'mystery', requested_limit: 5 }, 'kind'],
      [{ kind: 'key_limit', key_id: 'worker', limit_name: 'per-minute', requested_limit: 5, window_seconds: 0 }, 'window_seconds'],
      // No more than what is in force: not an increase.
      [{ kind: 'key_limit', key_id: 'worker', limit_name: 'per-minute', requested_limit: 10 }, 'requested_limit'],
      [{ kind: 'workspace_quota', requested_limit: 100 }, 'requested_limit'],
    ];
    for (const [body, field] of cases) {
      const res = await stack.rest('POST', '/limit-requests', { key: customer.secret, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.field, JSON.stringify(res.body)).toBe(field);
    }
    expect(await stateOf()).toBe(before);
  });
});

describe("the plan's ceiling holds", () => {
  it('approving a key limit above the ceiling is a 400 naming limit; with a plan change in the same approval it goes through', async () => {
    const id = await ask(writer, { kind: 'key_limit', key_id: 'worker', limit_name: 'per-minute', requested_limit: 5000 });
    const before = await stateOf();
    const refused = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: support.secret });
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(refused.body.error.field).toBe('limit');
    expect(refused.body.error.message).toContain('ceiling of 100 per 60s');
    expect(await stateOf()).toBe(before);
    const unknownPlan = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: support.secret, body: { plan: 'nope' } });
    expect(unknownPlan.status).toBe(400);
    expect(unknownPlan.body.error.field).toBe('plan');
    expect(await stateOf()).toBe(before);

    const approved = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: support.secret, body: { plan: 'large', note: 'moved to large' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approved_plan: 'large', approved_limit: null });
    const key = await stack.rest('GET', '/api-keys/worker', { key: customer.secret });
    expect(key.body.rate_limits).toEqual([{ name: 'per-minute', limit: 5000, window_seconds: 60 }]);
    const ws = await stack.orm.em.fork().execute<{ plan_id: string }[]>(`select plan_id from workspace where id = ?`, [customer.workspaceId]);
    expect(ws[0]?.plan_id).toBe('large');
  });

  it("the customer's audit log shows the provider's decision with the provider as actor", async () => {
    const rows = await stack.orm.em
      .fork()
      .execute<{ action: string; actor_key_id: string }[]>(`select action, actor_workspace_id, actor_key_id from audit_log where workspace_id = ? and actor_workspace_id = ? order by created_at`, [
        customer.workspaceId,
        support.workspaceId,
      ]);
    const actions = rows.map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['key.updated', 'limit_request.approved', 'workspace.plan_changed']));
    expect(rows.every((r) => r.actor_key_id === support.keyId)).toBe(true);
  });
});

describe("the provider's queue", () => {
  it('spans workspaces for a decider, one workspace on request; a customer sees only its own', async () => {
    const other = await stack.workspace(['admin']);
    const theirs = await ask(other.secret, { kind: 'workspace_quota', requested_limit: 123_456, reason: 'growth' });
    const queue = await stack.rest('GET', '/limit-requests?status=pending', { key: support.secret });
    expect(queue.status).toBe(200);
    expect(queue.body.limit_requests.map((r: { id: string }) => r.id)).toContain(theirs);
    const one = await stack.rest('GET', `/limit-requests?workspace_id=${other.workspaceId}`, { key: support.secret });
    expect(one.body.limit_requests.map((r: { workspace_id: string }) => r.workspace_id)).toEqual([other.workspaceId]);
    const caller = await stack.caller(support.secret);
    expect((await caller.limits.queue({ workspaceId: other.workspaceId })).limitRequests.map((r) => r.id)).toEqual([theirs]);
    // A customer's list is its own only, even when it asks for another workspace.
    const mine = await stack.rest('GET', `/limit-requests?workspace_id=${other.workspaceId}`, { key: customer.secret });
    expect(mine.status).toBe(200);
    expect(mine.body.limit_requests.every((r: { workspace_id: string }) => r.workspace_id === customer.workspaceId)).toBe(true);
  });
});
