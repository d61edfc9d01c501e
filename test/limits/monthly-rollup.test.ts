import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthlyRollupWorkflow } from '../../workflows/monthly-rollup.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The monthly rollup as the provider sees it: totals per plan (by the plan each workspace is on when
 * it runs) and overall, `usage.quota.reset` for each workspace with a monthly quota, and each plan's
 * shorter log retention, applied by the prune and by every logs query at once.
 */
let stack: Stack;
type Ws = { workspaceId: string; secret: string; keyId: string };
let free: Ws;
let pro: Ws;
let none: Ws;
let overridden: Ws;
const DAY = 86_400_000;

function rec(workspaceId: string, at: Date | string, status = 200) {
  stack.deps.usage.record({ workspaceId, keyId: 'k', source: 'service', method: 'GET', route: '/r', status, latencyMs: 10, at: new Date(at) });
}

const sql = <T>(q: string, params: unknown[] = []) => stack.orm.em.fork().execute<T[]>(q, params);

beforeAll(async () => {
  stack = await startStack({ usage: { flushIntervalMs: 60_000 } });
  await sql(
    `insert into plan (id, name, key_rate_limits, workspace_rate_limits, monthly_calls, log_retention_days, is_default, created_at, updated_at) values
       ('free', 'Free', '[]', '[]', 100, 7, false, now(), now()),
       ('pro', 'Pro', '[]', '[]', null, null, false, now(), now())`,
  );
  free = await stack.workspace(['admin']);
  pro = await stack.workspace(['admin']);
  none = await stack.workspace(['admin']);
  overridden = await stack.workspace(['admin']);
  await sql(`update workspace set plan_id = 'free' where id = ?`, [free.workspaceId]);
  await sql(`update workspace set plan_id = 'pro' where id = ?`, [pro.workspaceId]);
  await sql(`update workspace set overrides = '{"monthlyCalls": 500}' where id = ?`, [overridden.workspaceId]);
  // October 2026: free 3 calls (one a 404), pro 5 (one a 500), none 2.
  for (let i = 0; i < 3; i++) rec(free.workspaceId, '2026-10-10T10:00:00Z', i === 0 ? 404 : 200);
  for (let i = 0; i < 5; i++) rec(pro.workspaceId, '2026-10-11T10:00:00Z', i === 0 ? 500 : 200);
  for (let i = 0; i < 2; i++) rec(none.workspaceId, '2026-10-12T10:00:00Z');
  // Ten days ago and yesterday: past the free plan's 7 days, within everyone else's 90.
  for (const ws of [free, pro]) {
    rec(ws.workspaceId, new Date(Date.now() - 10 * DAY));
    rec(ws.workspaceId, new Date(Date.now() - DAY));
  }
  await stack.deps.usage.flush();
  await sql(`insert into workspace_quota (workspace_id, month, calls, credits, updated_at) values (?, '2026-10-01', 42, 0, now())`, [free.workspaceId]);
});
afterAll(() => stack.close());

const run = (month: string, n: number) =>
  stack.temporal.client.workflow.execute(monthlyRollupWorkflow, {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `plan-rollup:${month}:${n}:${stack.config.TEMPORAL_TASK_QUEUE}`,
    args: [{ month }],
    workflowExecutionTimeout: '2 minutes',
  });

const planRows = () =>
  sql<{ plan_id: string; workspaces: number; calls: string; errors_4xx: string; errors_5xx: string }>(
    `select plan_id, workspaces, calls, errors_4xx, errors_5xx from usage_month_plan where month = '2026-10-01' order by plan_id`,
  );
const resets = () =>
  sql<{ workspace_id: string; payload: Record<string, unknown>; idempotency_key: string }>(
    `select workspace_id, payload, idempotency_key from event where type = 'usage.quota.reset' order by workspace_id`,
  );
const logs = async (ws: Ws) => ((await stack.rest('GET', '/logs?limit=500', { key: ws.secret })).body.entries as { time: string }[]).map((e) => Date.parse(e.time));

describe('log retention per plan', () => {
  it("a logs query never shows records older than the workspace plan's retention, pruned or not", async () => {
    const cutoff = Date.now() - 7 * DAY;
    const mine = await logs(free);
    expect(mine.length).toBe(1);
    expect(mine.every((t) => t >= cutoff)).toBe(true);
    // The pro plan keeps logs for the global 90 days.
    expect((await logs(pro)).some((t) => t < cutoff)).toBe(true);
    // Still stored (the monthly prune removes it), just not shown.
    const stored = await sql<{ n: string }>(`select count(*) as n from usage_record where workspace_id = ? and created_at < ? and created_at > now() - interval '30 days'`, [
      free.workspaceId,
      new Date(cutoff),
    ]);
    expect(Number(stored[0]!.n)).toBe(1);
  });
});

describe('monthly rollup per plan', () => {
  it('writes totals per plan and overall, raises usage.quota.reset per workspace with a quota, and prunes past each plan retention', async () => {
    const result = await run('2026-10', 1);
    expect(result).toMatchObject({ month: '2026-10', workspaces: 3, quotaResets: 2 });

    expect(await planRows()).toEqual([
      { plan_id: '', workspaces: 1, calls: '2', errors_4xx: '0', errors_5xx: '0' },
      { plan_id: '*', workspaces: 3, calls: '10', errors_4xx: '1', errors_5xx: '1' },
      { plan_id: 'free', workspaces: 1, calls: '3', errors_4xx: '1', errors_5xx: '0' },
      { plan_id: 'pro', workspaces: 1, calls: '5', errors_4xx: '0', errors_5xx: '1' },
    ]);

    const raised = await resets();
    expect(raised.map((r) => r.workspace_id).sort()).toEqual([free.workspaceId, overridden.workspaceId].sort());
    const byWs = Object.fromEntries(raised.map((r) => [r.workspace_id, r]));
    expect(byWs[free.workspaceId]!.payload).toEqual({ workspace_id: free.workspaceId, plan_id: 'free', month: '2026-11', limit: 100, previous_month_calls: 42 });
    expect(byWs[overridden.workspaceId]!.payload).toEqual({ workspace_id: overridden.workspaceId, plan_id: null, month: '2026-11', limit: 500, previous_month_calls: 0 });
    expect(byWs[free.workspaceId]!.idempotency_key).toBe('usage.quota.reset:2026-11');

    // The free workspace's 10-day-old record is gone; the pro one's stays (global retention).
    const old = await sql<{ workspace_id: string }>(`select workspace_id from usage_record where created_at < now() - interval '7 days' and created_at > now() - interval '30 days'`);
    expect(old.map((r) => r.workspace_id)).toEqual([pro.workspaceId]);
    expect(await logs(free)).toHaveLength(1);
  });

  it('a re-run gives the same rows and raises nothing again', async () => {
    const before = await planRows();
    const again = await run('2026-10', 2);
    expect(again).toMatchObject({ reportsRaised: 0, quotaResets: 0, prunedRecords: 0 });
    expect(await planRows()).toEqual(before);
    expect(await resets()).toHaveLength(2);
  });

  it('counts a workspace under the plan it is on when the rollup runs', async () => {
    await sql(`update workspace set plan_id = 'pro' where id = ?`, [none.workspaceId]);
    await run('2026-10', 3);
    const rows = await planRows();
    expect(rows.map((r) => r.plan_id)).toEqual(['*', 'free', 'pro']);
    expect(rows.find((r) => r.plan_id === 'pro')).toMatchObject({ workspaces: 2, calls: '7' });
  });
});
