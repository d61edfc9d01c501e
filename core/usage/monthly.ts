import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { TemporalHandle } from '../../temporal/client.js';
import { typedDb, type Row } from '../../db/kysely.js';
import { effectiveLimits } from '../plans/effective.js';
import { planLimitsOf } from '../plans/load.js';
import { raiseEvent } from '../events.js';
import { workspaceScope } from '../scope.js';
import { BUCKETS, quantileFromHistogram, rollupSums } from './histogram.js';
import { dropUsagePartitions } from './partitions.js';

/** `key_id` of the row holding a workspace's total (key ids cannot start with `*`). */
export const WORKSPACE_TOTAL = '*';
export const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

export function monthBounds(month: string): { from: Date; to: Date } {
  if (!MONTH_PATTERN.test(month)) throw new Error(`month: expected YYYY-MM, got '${month.slice(0, 20)}'`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  return { from: new Date(Date.UTC(y, m - 1, 1)), to: new Date(Date.UTC(y, m, 1)) };
}

/** The month before the one holding `at` (UTC): what a run on the 1st closes. */
export function previousMonth(at: Date): string {
  const d = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export interface MonthRow {
  workspaceId: string;
  keyId: string;
  calls: number;
  errors4xx: number;
  errors5xx: number;
  avgLatencyMs: number;
  p95LatencyMs: number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function finish(workspaceId: string, keyId: string, calls: number, e4: number, e5: number, lsum: number, lmax: number, hist: number[]): MonthRow {
  return {
    workspaceId,
    keyId,
    calls,
    errors4xx: e4,
    errors5xx: e5,
    avgLatencyMs: calls === 0 ? 0 : round1(lsum / calls),
    p95LatencyMs: round1(quantileFromHistogram(hist, 0.95, lmax)),
  };
}

/**
 * Writes the month's totals per key and per workspace (`key_id = '*'`) from the day rollups,
 * replacing whatever an earlier run wrote for that month in one transaction: running a month
 * again gives the same rows. Day rollups are never pruned, so a month can be closed (or
 * re-closed) long after its raw records are gone.
 */
export async function rollupMonth(em: EntityManager, month: string): Promise<{ workspaces: string[]; rows: number; plans: number }> {
  const { from, to } = monthBounds(month);
  // Every workspace's month at once (a worker's job, no caller's workspace): the day rollups of all of them.
  const aggs = await typedDb(em)
    .selectFrom('usage_day')
    .select((eb) => [
      'workspace_id',
      'key_id',
      ...rollupSums(eb),
    ])
    .where('bucket', '>=', from)
    .where('bucket', '<', to)
    .groupBy(['workspace_id', 'key_id'])
    .orderBy('workspace_id')
    .orderBy('key_id')
    .execute();
  const rows: MonthRow[] = [];
  const totals = new Map<string, { calls: number; e4: number; e5: number; lsum: number; lmax: number; hist: number[] }>();
  for (const a of aggs) {
    const hist = a.hist.map(Number);
    const calls = Number(a.calls);
    rows.push(finish(a.workspace_id, a.key_id, calls, Number(a.e4), Number(a.e5), Number(a.lsum), Number(a.lmax), hist));
    let t = totals.get(a.workspace_id);
    if (!t) totals.set(a.workspace_id, (t = { calls: 0, e4: 0, e5: 0, lsum: 0, lmax: 0, hist: new Array<number>(BUCKETS).fill(0) }));
    t.calls += calls;
    t.e4 += Number(a.e4);
    t.e5 += Number(a.e5);
    t.lsum += Number(a.lsum);
    t.lmax = Math.max(t.lmax, Number(a.lmax));
    hist.forEach((v, i) => (t.hist[i] = (t.hist[i] ?? 0) + v));
  }
  for (const [ws, t] of totals) rows.push(finish(ws, WORKSPACE_TOTAL, t.calls, t.e4, t.e5, t.lsum, t.lmax, t.hist));
  const planRows = await totalsPerPlan(em, totals);

  await em.transactional(async (tx) => {
    const db = typedDb(tx);
    await db.deleteFrom('usage_month').where('month', '=', month + '-01').execute();
    // The provider's totals, replaced with the month like the rows they sum (the table has no workspace).
    await db.deleteFrom('usage_month_plan').where('month', '=', month + '-01').execute();
    if (planRows.length > 0) {
      await db
        .insertInto('usage_month_plan')
        .values(planRows.map((r) => ({ month: month + '-01', plan_id: r.planId, workspaces: r.workspaces, calls: r.calls, errors_4xx: r.e4, errors_5xx: r.e5, updated_at: sql<Date>`now()` })))
        .execute();
    }
    for (let i = 0; i < rows.length; i += 500) {
      await db
        .insertInto('usage_month')
        .values(
          rows.slice(i, i + 500).map((r) => ({
            workspace_id: r.workspaceId,
            month: month + '-01',
            key_id: r.keyId,
            calls: r.calls,
            errors_4xx: r.errors4xx,
            errors_5xx: r.errors5xx,
            avg_latency_ms: r.avgLatencyMs,
            p95_latency_ms: r.p95LatencyMs,
            updated_at: sql<Date>`now()`,
          })),
        )
        .execute();
    }
  });
  return { workspaces: [...totals.keys()], rows: rows.length, plans: planRows.length };
}

/** `plan_id` of the provider-wide row for workspaces on no plan, and of the overall row. */
export const NO_PLAN = '';
export const ALL_PLANS = '*';

/**
 * The month's calls and errors per plan, by the plan each workspace is on when the rollup runs
 * (`NO_PLAN` for none), and overall (`ALL_PLANS`); `workspaces` counts those that made calls.
 */
async function totalsPerPlan(em: EntityManager, totals: Map<string, { calls: number; e4: number; e5: number }>) {
  const ids = [...totals.keys()];
  const planOf = new Map<string, string>();
  // The tenants themselves (no workspace scope applies), in chunks so the parameter list stays small.
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await typedDb(em).selectFrom('workspace').select(['id', 'plan_id']).where('id', 'in', ids.slice(i, i + 1000)).execute();
    for (const r of rows) planOf.set(r.id, r.plan_id ?? NO_PLAN);
  }
  const sums = new Map<string, { planId: string; workspaces: number; calls: number; e4: number; e5: number }>();
  const add = (planId: string, t: { calls: number; e4: number; e5: number }) => {
    let s = sums.get(planId);
    if (!s) sums.set(planId, (s = { planId, workspaces: 0, calls: 0, e4: 0, e5: 0 }));
    s.workspaces++;
    s.calls += t.calls;
    s.e4 += t.e4;
    s.e5 += t.e5;
  };
  for (const [ws, t] of totals) {
    add(planOf.get(ws) ?? NO_PLAN, t);
    add(ALL_PLANS, t);
  }
  return [...sums.values()].sort((a, b) => a.planId.localeCompare(b.planId));
}

/** The month after `month` (`YYYY-MM`): the one a quota reset opens. */
export function nextMonth(month: string): string {
  const { to } = monthBounds(month);
  return `${to.getUTCFullYear()}-${String(to.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * `usage.quota.reset` for every workspace with a monthly call quota (plan or override) when `month`
 * closes: its quota starts again in the next month. Idempotent per workspace and new month, so a
 * re-run raises nothing new. `previous_month_calls` is what the quota counted in `month`.
 */
export async function raiseQuotaResets(
  deps: { em: () => EntityManager; temporal: TemporalHandle },
  month: string,
  onProgress: (done: number) => void = () => {},
): Promise<{ raised: number; workspaces: number }> {
  const opening = nextMonth(month);
  let raised = 0;
  let withQuota = 0;
  let after = '';
  for (;;) {
    // Every workspace, in pages by id, with its plan: a worker's job over all tenants.
    const page = await typedDb(deps.em())
      .selectFrom('workspace as w')
      .leftJoin('plan as p', 'p.id', 'w.plan_id')
      .selectAll('p')
      .select(['w.id as workspace_id', 'w.overrides'])
      .where('w.id', '>', after)
      .orderBy('w.id')
      .limit(500)
      .execute();
    if (page.length === 0) break;
    after = page.at(-1)!.workspace_id;
    for (const row of page) {
      const plan = row.id === null ? null : planLimitsOf(row as Row<'plan'>);
      const limits = effectiveLimits(plan, row.overrides ?? {});
      if (limits.monthlyCalls === null) continue;
      withQuota++;
      const em = deps.em();
      const used = await workspaceScope(em, row.workspace_id).selectFrom('workspace_quota').select('calls').where('month', '=', month + '-01').executeTakeFirst();
      const ev = await raiseEvent(
        { em, temporal: deps.temporal },
        {
          workspaceId: row.workspace_id,
          type: 'usage.quota.reset',
          idempotencyKey: `usage.quota.reset:${opening}`,
          source: 'gatehouse',
          payload: { workspace_id: row.workspace_id, plan_id: limits.planId, month: opening, limit: limits.monthlyCalls, previous_month_calls: Number(used?.calls ?? 0) },
        },
      );
      if (ev.created) raised++;
      onProgress(raised);
    }
  }
  return { raised, workspaces: withQuota };
}

export interface MonthReport {
  month: string;
  workspaceId: string;
  totals: Omit<MonthRow, 'workspaceId' | 'keyId'>;
  keys: (Omit<MonthRow, 'workspaceId'> & { keyId: string })[];
}

export async function readMonth(em: EntityManager, workspaceId: string, month: string): Promise<MonthReport | undefined> {
  const rows = await workspaceScope(em, workspaceId)
    .selectFrom('usage_month')
    .select(['key_id', 'calls', 'errors_4xx', 'errors_5xx', 'avg_latency_ms', 'p95_latency_ms'])
    .where('month', '=', month + '-01')
    .orderBy('calls', 'desc')
    .orderBy('key_id')
    .execute();
  const conv = (r: (typeof rows)[number]) => ({
    keyId: r.key_id,
    calls: Number(r.calls),
    errors4xx: Number(r.errors_4xx),
    errors5xx: Number(r.errors_5xx),
    avgLatencyMs: Number(r.avg_latency_ms),
    p95LatencyMs: Number(r.p95_latency_ms),
  });
  const total = rows.find((r) => r.key_id === WORKSPACE_TOTAL);
  if (!total) return undefined;
  const { keyId: _k, ...totals } = conv(total);
  return { month, workspaceId, totals, keys: rows.filter((r) => r.key_id !== WORKSPACE_TOTAL).map(conv) };
}

/**
 * `usage.monthly_report` for each workspace that had calls in the month, idempotent per
 * workspace and month: re-running the workflow never sends a second report.
 */
export async function raiseMonthlyReports(
  deps: { em: () => EntityManager; temporal: TemporalHandle },
  month: string,
  onProgress: (done: number) => void = () => {},
  startAfter = '',
): Promise<{ raised: number; workspaces: number }> {
  // The workspaces with a total for the month, across all of them: what the workflow pages through.
  const workspaces = await typedDb(deps.em())
    .selectFrom('usage_month')
    .select('workspace_id')
    .where('month', '=', month + '-01')
    .where('key_id', '=', WORKSPACE_TOTAL)
    .where('workspace_id', '>', startAfter)
    .orderBy('workspace_id')
    .execute();
  let raised = 0;
  for (const { workspace_id } of workspaces) {
    const em = deps.em();
    const report = await readMonth(em, workspace_id, month);
    if (!report) continue;
    const t = report.totals;
    const ev = await raiseEvent(
      { em, temporal: deps.temporal },
      {
        workspaceId: workspace_id,
        type: 'usage.monthly_report',
        idempotencyKey: `usage.monthly_report:${month}`,
        source: 'gatehouse',
        payload: {
          workspace_id,
          month,
          calls: t.calls,
          errors_4xx: t.errors4xx,
          errors_5xx: t.errors5xx,
          error_rate: t.calls === 0 ? 0 : Math.round(((t.errors4xx + t.errors5xx) / t.calls) * 10_000) / 10_000,
          avg_latency_ms: t.avgLatencyMs,
          p95_latency_ms: t.p95LatencyMs,
          top_keys: report.keys.slice(0, 10).map((k) => ({ key_id: k.keyId || null, calls: k.calls, errors: k.errors4xx + k.errors5xx })),
        },
      },
    );
    if (ev.created) raised++;
    onProgress(raised);
  }
  return { raised, workspaces: workspaces.length };
}

/**
 * Retention: drops the raw records' day partitions older than the cutoff (and deletes the few
 * records DEFAULT holds past it: core/usage/partitions.ts), then deletes minute and hour rollups
 * (counted together as `minutes`) older than the cutoff in batches, so no statement holds locks for
 * long; `onBatch` heartbeats between batches. Day and month rollups are kept. Then, per workspace
 * whose plan keeps logs for fewer days (`logRetentionDays`, counted back from `now`) than the global
 * cutoff does, its records and rollups older than that, by row. `records` counts rows deleted by row;
 * a dropped day counts in `partitions`.
 */
export async function pruneUsage(
  em: () => EntityManager,
  cutoff: Date,
  opts: { batchSize?: number; onBatch?: (deleted: number) => void; cancelled?: () => boolean; now?: Date } = {},
): Promise<{ records: number; minutes: number; partitions: number }> {
  const batch = opts.batchSize ?? 10_000;
  const days = await dropUsagePartitions(em(), cutoff);
  let records = days.deleted;
  let minutes = 0;
  opts.onBatch?.(records);
  // Rollups have a composite key: a batch is picked by ctid, the cheapest way to name rows to delete.
  for (const table of ['usage_minute', 'usage_hour'] as const) {
    for (;;) {
      if (opts.cancelled?.()) break;
      const db = typedDb(em());
      const { numDeletedRows } = await db
        .deleteFrom(table)
        .where(sql.ref('ctid'), 'in', db.selectFrom(table).select(sql<string>`ctid`.as('ctid')).where('bucket', '<', cutoff).limit(batch))
        .executeTakeFirst();
      const n = Number(numDeletedRows);
      minutes += n;
      opts.onBatch?.(records + minutes);
      if (n < batch) break;
    }
  }
  const now = (opts.now ?? new Date()).getTime();
  for (const { workspaceId, days } of await shorterRetention(em(), Math.floor((now - cutoff.getTime()) / DAY))) {
    const ws = await pruneWorkspace(em, workspaceId, new Date(now - days * DAY), batch, opts);
    records += ws.records;
    minutes += ws.minutes;
    opts.onBatch?.(records + minutes);
  }
  return { records, minutes, partitions: days.dropped.length };
}

const DAY = 86_400_000;

/** Workspaces whose effective log retention (plan or override) is shorter than `globalDays`. */
export async function shorterRetention(em: EntityManager, globalDays: number): Promise<{ workspaceId: string; days: number }[]> {
  // Plans and workspaces are the provider's: every workspace with its plan's retention, once a month.
  const rows = await typedDb(em)
    .selectFrom('workspace as w')
    .leftJoin('plan as p', 'p.id', 'w.plan_id')
    .select(['w.id', 'w.overrides', 'p.log_retention_days'])
    .orderBy('w.id')
    .execute();
  const out: { workspaceId: string; days: number }[] = [];
  for (const r of rows) {
    const days = r.overrides && Object.hasOwn(r.overrides, 'logRetentionDays') ? (r.overrides.logRetentionDays ?? null) : r.log_retention_days;
    if (days !== null && days !== undefined && days < globalDays) out.push({ workspaceId: r.id, days });
  }
  return out;
}

/** One workspace's records and minute and hour rollups older than its own cutoff, in batches. */
async function pruneWorkspace(
  em: () => EntityManager,
  workspaceId: string,
  cutoff: Date,
  batch: number,
  opts: { cancelled?: () => boolean },
): Promise<{ records: number; minutes: number }> {
  let records = 0;
  let minutes = 0;
  for (;;) {
    if (opts.cancelled?.()) return { records, minutes };
    const scope = workspaceScope(em(), workspaceId);
    // By the primary key's (created_at, id) within the workspace: one index probe a row.
    const { numDeletedRows } = await scope
      .deleteFrom('usage_record')
      .where('created_at', '<', cutoff)
      .where((eb) => eb(eb.refTuple('created_at', 'id'), 'in', scope.selectFrom('usage_record').select(['created_at', 'id']).where('created_at', '<', cutoff).limit(batch).$asTuple('created_at', 'id')))
      .executeTakeFirst();
    records += Number(numDeletedRows);
    if (Number(numDeletedRows) < batch) break;
  }
  for (const table of ['usage_minute', 'usage_hour'] as const) {
    for (;;) {
      if (opts.cancelled?.()) return { records, minutes };
      const scope = workspaceScope(em(), workspaceId);
      const { numDeletedRows } = await scope
        .deleteFrom(table)
        .where(sql.ref('ctid'), 'in', scope.selectFrom(table).select(sql<string>`ctid`.as('ctid')).where('bucket', '<', cutoff).limit(batch))
        .executeTakeFirst();
      minutes += Number(numDeletedRows);
      if (Number(numDeletedRows) < batch) break;
    }
  }
  return { records, minutes };
}
