import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { rollupUsageMonth, raiseMonthlyReports, raiseQuotaResets } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 5 },
});
const { pruneUsageRecords } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // Each batch heartbeats: a worker lost mid-prune is noticed within a minute and the next
  // attempt carries on (deleting what is older than the cutoff is naturally resumable).
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 10 },
});

export interface MonthlyRollupInput {
  /** `YYYY-MM`; omitted (as the Schedule does) the month before the run's start, UTC. */
  month?: string;
}

export interface MonthlyRollupResult {
  month: string;
  workspaces: number;
  rows: number;
  reportsRaised: number;
  /** `usage.quota.reset` events raised (runs started before quota resets existed report none). */
  quotaResets?: number;
  prunedRecords: number;
  prunedMinutes: number;
  /** Day partitions of raw records dropped (runs before partitioning report none). */
  prunedPartitions?: number;
}

/**
 * Closes a month: totals per key, workspace and plan, a usage.monthly_report each, a
 * usage.quota.reset for each workspace with a monthly quota, then retention (global, and shorter
 * per plan).
 */
export async function monthlyRollupWorkflow(input: MonthlyRollupInput = {}): Promise<MonthlyRollupResult> {
  // Workflow time is deterministic: the start of this run, e.g. the 1st at 00:05 UTC.
  const now = new Date(Date.now());
  const month = input.month ?? previousMonthOf(now);
  const rolled = await rollupUsageMonth(month);
  const reports = await raiseMonthlyReports(month);
  // Behind a patch: runs started before quotas existed replay without this activity.
  const resets = patched('quota-resets') ? await raiseQuotaResets(month) : undefined;
  const pruned = await pruneUsageRecords({});
  return {
    month,
    workspaces: rolled.workspaces,
    rows: rolled.rows,
    reportsRaised: reports.raised,
    ...(resets ? { quotaResets: resets.raised } : {}),
    prunedRecords: pruned.records,
    prunedMinutes: pruned.minutes,
    ...(pruned.partitions === undefined ? {} : { prunedPartitions: pruned.partitions }),
  };
}

function previousMonthOf(at: Date): string {
  const d = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
