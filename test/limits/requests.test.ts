import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireLimitRequests } from '../../core/limits/expire.js';
import { ensureSchedules, scheduleIds } from '../../temporal/schedules.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The three kinds of request, from filing to the provider's decision or expiry: what each approval
 * changes, the events the customer (and the provider) receive, and the audit trail.
 */
let stack: Stack;
let customer: { workspaceId: string; secret: string; keyId: string };

const sql = <T>(q: string, params: unknown[] = []) => stack.orm.em.fork().execute<T[]>(q, params);
const workspaceRow = async () => (await sql<{ plan_id: string | null; overrides: Record<string, unknown> }>(`select plan_id, overrides from workspace where id = ?`, [customer.workspaceId]))[0]!;
const events = (type: string) =>
  sql<{ payload: Record<string, unknown> }>(`select payload from event where workspace_id = ? and type = ? order by created_at`, [customer.workspaceId, type]);

async function file(body: Record<string, unknown>) {
  const res = await stack.rest('POST', '/limit-requests', { key: customer.secret, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; [k: string]: unknown };
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  await sql(
    `insert into plan (id, name, key_rate_limits, workspace_rate_limits, monthly_calls, is_default, created_at, updated_at) values
       ('starter', 'Starter', '[]', '[]', 1000, false, now(), now()), ('growth', 'Growth', '[]', '[]', 100000, false, now(), now())`,
  );
  customer = await stack.workspace(['admin']);
  await sql(`update workspace set plan_id = 'starter' where id = ?`, [customer.workspaceId]);
});
afterAll(() => stack.close());

describe('a monthly quota request', () => {
  it('records the quota in force; approved with another amount, it becomes the workspace override', async () => {
    const req = await file({ kind: 'workspace_quota', requested_limit: 50_000, reason: 'campaign' });
    expect(req).toMatchObject({ kind: 'workspace_quota', current_limit: 1000, requested_limit: 50_000, requested_plan: 'starter', key_id: null, status: 'pending' });
    const dup = await stack.rest('POST', '/limit-requests', { key: customer.secret, body: { kind: 'workspace_quota', requested_limit: 9 } });
    expect(dup.status).toBe(409);

    const [created] = await events('limits.request.created');
    expect(created!.payload).toMatchObject({ workspace_id: customer.workspaceId, request_id: req.id, kind: 'workspace_quota', requested_limit: 50_000, reason: 'campaign' });

    const caller = await stack.caller();
    const approved = await caller.limits.approve({ id: req.id, limit: 20_000, note: '20k for now' });
    expect(approved).toMatchObject({ status: 'approved', approvedLimit: 20_000, approvedPlan: null, decisionNote: '20k for now', decidedBy: 'bootstrap' });
    expect(await workspaceRow()).toMatchObject({ plan_id: 'starter', overrides: { monthlyCalls: 20_000 } });
    const [decided] = await events('limits.request.decided');
    expect(decided!.payload).toMatchObject({ request_id: req.id, status: 'approved', approved_limit: 20_000, note: '20k for now', decided_by: 'bootstrap' });
  });
});

describe('a plan request', () => {
  it('approved, assigns the plan asked for; the customer sees the state and the note', async () => {
    const req = await file({ kind: 'plan', plan: 'growth', reason: 'growing' });
    expect(req).toMatchObject({ kind: 'plan', requested_plan: 'growth', current_limit: 20_000 });
    const limit = await stack.rest('POST', `/limit-requests/${req.id}/approve`, { body: { limit: 5 } });
    expect(limit.status).toBe(400);
    expect(limit.body.error.field).toBe('limit');
    const approved = await stack.rest('POST', `/limit-requests/${req.id}/approve`, { body: { note: 'welcome' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approved_plan: 'growth' });
    expect((await workspaceRow()).plan_id).toBe('growth');
    const mine = await stack.rest('GET', `/limit-requests?status=approved`, { key: customer.secret });
    expect(mine.body.limit_requests.find((r: { id: string }) => r.id === req.id)).toMatchObject({ status: 'approved', decision_note: 'welcome' });
  });

  it('declined, changes nothing and says why', async () => {
    const req = await file({ kind: 'plan', plan: 'starter', reason: 'cheaper' });
    const declined = await stack.rest('POST', `/limit-requests/${req.id}/decline`, { body: { note: 'commitment until March' } });
    expect(declined.body).toMatchObject({ status: 'declined', decision_note: 'commitment until March' });
    expect((await workspaceRow()).plan_id).toBe('growth');
    const decided = await events('limits.request.decided');
    expect(decided.at(-1)!.payload).toMatchObject({ request_id: req.id, status: 'declined', note: 'commitment until March' });
  });
});

describe('expiry', () => {
  it('a request pending past its expiry becomes expired, once, with limits.request.decided', async () => {
    const req = await file({ kind: 'workspace_quota', requested_limit: 75_000 });
    const other = await stack.workspace(['admin']);
    const fresh = await stack.rest('POST', '/limit-requests', { key: other.secret, body: { kind: 'workspace_quota', requested_limit: 10 } });
    await sql(`update limit_request set expires_at = now() - interval '1 minute' where id = ?`, [req.id]);
    const deps = { em: () => stack.orm.em.fork() as never, temporal: stack.temporal };
    expect(await expireLimitRequests(deps)).toEqual({ expired: 1 });
    expect(await expireLimitRequests(deps)).toEqual({ expired: 0 });
    const mine = await stack.rest('GET', '/limit-requests?status=expired', { key: customer.secret });
    expect(mine.body.limit_requests.map((r: { id: string }) => r.id)).toEqual([req.id]);
    expect((await stack.rest('GET', `/limit-requests?status=pending`, { key: other.secret })).body.limit_requests.map((r: { id: string }) => r.id)).toEqual([fresh.body.id]);
    const decided = await events('limits.request.decided');
    expect(decided.at(-1)!.payload).toMatchObject({ request_id: req.id, status: 'expired', decided_by: null });
    const audit = await sql<{ action: string; actor_key_id: string | null }>(`select action, actor_key_id from audit_log where workspace_id = ? and target_id = ?`, [customer.workspaceId, req.id]);
    expect(audit).toContainEqual({ action: 'limit_request.expired', actor_key_id: null });
    // An expired request is decided: nobody approves it any more.
    expect((await stack.rest('POST', `/limit-requests/${req.id}/approve`, {})).status).toBe(409);
  });

  it('runs on an hourly Schedule', async () => {
    const ids = await ensureSchedules(stack.temporal.client, stack.config);
    const id = scheduleIds(stack.config).limitRequestExpiry;
    expect(ids).toContain(id);
    const described = await stack.temporal.client.schedule.getHandle(id).describe();
    expect(described.action).toMatchObject({ workflowType: 'limitRequestExpiryWorkflow', taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    expect(described.spec.intervals?.[0]?.every).toBe(3_600_000);
    for (const s of ids) await stack.temporal.client.schedule.getHandle(s).delete();
  });
});
