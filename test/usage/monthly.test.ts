import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchedules, scheduleIds } from '../../temporal/schedules.js';
import { monthlyRollupWorkflow } from '../../workflows/monthly-rollup.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
let a: { workspaceId: string; secret: string; keyId: string };
let b: { workspaceId: string; secret: string; keyId: string };
const DAY = 86_400_000;

function rec(workspaceId: string, keyId: string, at: string, latencyMs: number, status = 200) {
  stack.deps.usage.record({ workspaceId, keyId, source: 'service', method: 'GET', route: '/r', status, latencyMs, at: new Date(at) });
}

beforeAll(async () => {
  stack = await startStack({ usage: { flushIntervalMs: 60_000 } });
  a = await stack.workspace(['admin']);
  b = await stack.workspace(['admin']);
  // October 2026 in A: k1 9 × 20 ms + 1 × 400 ms on two days; k2 5 × 100 ms, one a 500.
  for (let i = 0; i < 9; i++) rec(a.workspaceId, 'k1', `2026-10-0${1 + (i % 2)}T12:00:00Z`, 20);
  rec(a.workspaceId, 'k1', '2026-10-31T23:59:00Z', 400);
  for (let i = 0; i < 5; i++) rec(a.workspaceId, 'k2', '2026-10-15T08:00:00Z', 100, i === 0 ? 500 : 200);
  for (let i = 0; i < 3; i++) rec(b.workspaceId, 'bk', '2026-10-20T08:00:00Z', 10);
  // Outside the month: must not count.
  rec(a.workspaceId, 'k1', '2026-09-30T23:59:00Z', 20);
  rec(a.workspaceId, 'k1', '2026-11-01T00:00:00Z', 20);
  await stack.deps.usage.flush();

  // Raw records and minute rollups older than the retention (90 days) next to recent ones.
  const em = stack.orm.em.fork();
  const old = new Date(Date.now() - 100 * DAY);
  const recent = new Date(Date.now() - 10 * DAY);
  await em.execute(
    `insert into usage_record (workspace_id, key_id, source, method, route, status, latency_ms, counted, created_at)
     select ?, 'old', 'service', 'GET', '/old', 200, 1, true, ? from generate_series(1, 25)`,
    [a.workspaceId, old],
  );
  await em.execute(
    `insert into usage_record (workspace_id, key_id, source, method, route, status, latency_ms, counted, created_at) values (?, 'recent', 'service', 'GET', '/recent', 200, 1, true, ?)`,
    [a.workspaceId, recent],
  );
  await em.execute(
    `insert into usage_minute (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist) values (?, ?, 'old', 'GET /old', 25, 0, 0, 25, 1, '{25}')`,
    [a.workspaceId, new Date(Math.floor(old.getTime() / 60_000) * 60_000)],
  );
});
afterAll(() => stack.close());

const run = (month: string, n: number) =>
  stack.temporal.client.workflow.execute(monthlyRollupWorkflow, {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `usage-rollup:${month}:${n}:${stack.config.TEMPORAL_TASK_QUEUE}`,
    args: [{ month }],
    workflowExecutionTimeout: '2 minutes',
  });

async function monthRows() {
  return stack.orm.em
    .fork()
    .execute<{ workspace_id: string; key_id: string; calls: string; errors_4xx: string; errors_5xx: string; avg_latency_ms: number; p95_latency_ms: number }[]>(
      `select workspace_id, key_id, calls, errors_4xx, errors_5xx, avg_latency_ms, p95_latency_ms from usage_month where month = '2026-10-01' order by workspace_id, key_id`,
    );
}

async function reports(workspaceId: string) {
  return stack.orm.em.fork().execute<{ payload: Record<string, unknown> }[]>(`select payload from event where workspace_id = ? and type = 'usage.monthly_report'`, [workspaceId]);
}

describe('monthly rollup workflow', () => {
  it('writes per-key and per-workspace totals, raises a report per workspace and prunes past retention', async () => {
    const result = await run('2026-10', 1);
    expect(result).toMatchObject({ month: '2026-10', workspaces: 2, reportsRaised: 2, prunedRecords: 25, prunedMinutes: 1 });

    const rows = (await monthRows()).filter((r) => r.workspace_id === a.workspaceId);
    // Workspace: 15 calls; sorted, the 15th (ceil(0.95 × 15)) is 400 ms, reported as the
    // (300, 500] bucket's bound capped by the largest latency seen. Average 1080 / 15 = 72.
    expect(rows).toEqual([
      { workspace_id: a.workspaceId, key_id: '*', calls: '15', errors_4xx: '0', errors_5xx: '1', avg_latency_ms: 72, p95_latency_ms: 400 },
      { workspace_id: a.workspaceId, key_id: 'k1', calls: '10', errors_4xx: '0', errors_5xx: '0', avg_latency_ms: 58, p95_latency_ms: 400 },
      { workspace_id: a.workspaceId, key_id: 'k2', calls: '5', errors_4xx: '0', errors_5xx: '1', avg_latency_ms: 100, p95_latency_ms: 100 },
    ]);

    const [report] = await reports(a.workspaceId);
    expect(report!.payload).toMatchObject({ month: '2026-10', calls: 15, errors_5xx: 1, avg_latency_ms: 72, p95_latency_ms: 400 });
    expect(report!.payload['top_keys']).toEqual([
      { key_id: 'k1', calls: 10, errors: 0 },
      { key_id: 'k2', calls: 5, errors: 1 },
    ]);
    expect(await reports(b.workspaceId)).toHaveLength(1);

    const left = await stack.orm.em.fork().execute<{ key_id: string }[]>(`select key_id from usage_record where workspace_id = ? and key_id in ('old', 'recent')`, [a.workspaceId]);
    expect(left).toEqual([{ key_id: 'recent' }]);
    const minutes = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from usage_minute where key_id = 'old'`);
    expect(minutes[0]!.n).toBe('0');
  });

  it('gives the same rows and no second report when the month runs again', async () => {
    const before = await monthRows();
    const again = await run('2026-10', 2);
    expect(again).toMatchObject({ reportsRaised: 0, prunedRecords: 0 });
    expect(await monthRows()).toEqual(before);
    expect(await reports(a.workspaceId)).toHaveLength(1);
  });

  it('fails at once, without retrying, on a month that is not YYYY-MM', async () => {
    await expect(run('2026-13', 3)).rejects.toThrow();
    // One attempt of the activity, its failure non-retryable: retries would have failed too, only later.
    const history = await stack.temporal.client.workflow.getHandle(`usage-rollup:2026-13:3:${stack.config.TEMPORAL_TASK_QUEUE}`).fetchHistory();
    const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
    const failed = (history.events ?? []).find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    expect(failed).toMatchObject({ message: "month: expected YYYY-MM, got '2026-13'", applicationFailureInfo: { type: 'InvalidMonth', nonRetryable: true } });
  });

  it('is on a Schedule: the 1st of each month at 00:05 UTC, with a catch-up window', async () => {
    const ids = await ensureSchedules(stack.temporal.client, stack.config);
    const id = scheduleIds(stack.config).monthlyUsage;
    expect(ids).toContain(id);
    // Idempotent: a second start-up changes nothing.
    expect(await ensureSchedules(stack.temporal.client, stack.config)).toEqual(ids);
    const described = await stack.temporal.client.schedule.getHandle(id).describe();
    expect(described.spec.calendars?.[0]).toMatchObject({ dayOfMonth: [{ start: 1, end: 1, step: 1 }], hour: [{ start: 0, end: 0, step: 1 }], minute: [{ start: 5, end: 5, step: 1 }] });
    expect(described.policies.catchupWindow).toBe(7 * DAY);
    expect(described.action).toMatchObject({ workflowType: 'monthlyRollupWorkflow', taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    for (const s of ids) await stack.temporal.client.schedule.getHandle(s).delete();
  });
});
