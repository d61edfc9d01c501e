import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MONTH_PATTERN, pruneUsage, raiseMonthlyReports, raiseQuotaResets, rollupMonth } from '../core/usage/monthly.js';
import { maintainUsagePartitions, type PartitionUpkeep } from '../core/usage/partitions.js';
import type { ActivityDeps } from './index.js';

const DAY = 86_400_000;

function activityContext(): Context | undefined {
  // Called directly (a test, a script) there is no activity context to heartbeat to.
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Monthly rollup activities: inputs and outputs are months, counts and times only. */
export function createUsageActivities({ orm, temporal, config, log }: Pick<ActivityDeps, 'orm' | 'temporal' | 'config' | 'log'>) {
  const fork = () => orm.em.fork() as EntityManager;
  return {
    async rollupUsageMonth(month: string): Promise<{ workspaces: number; rows: number; plans?: number }> {
      if (!MONTH_PATTERN.test(month)) throw ApplicationFailure.nonRetryable(`month: expected YYYY-MM, got '${month.slice(0, 20)}'`, 'InvalidMonth');
      const r = await rollupMonth(fork(), month);
      return { workspaces: r.workspaces.length, rows: r.rows, plans: r.plans };
    },

    /** `usage.quota.reset` for each workspace with a monthly quota, as `month` closes. */
    async raiseQuotaResets(month: string): Promise<{ raised: number; workspaces: number }> {
      if (!MONTH_PATTERN.test(month)) throw ApplicationFailure.nonRetryable(`month: expected YYYY-MM, got '${month.slice(0, 20)}'`, 'InvalidMonth');
      return raiseQuotaResets({ em: fork, temporal }, month, (done) => activityContext()?.heartbeat(done));
    },

    async raiseMonthlyReports(month: string): Promise<{ raised: number; workspaces: number }> {
      return raiseMonthlyReports({ em: fork, temporal }, month, (done) => activityContext()?.heartbeat(done));
    },

    /** Raw records past GATEHOUSE_USAGE_RETENTION_DAYS, in batches, heartbeating after each. */
    async pruneUsageRecords(input: { now?: string } = {}): Promise<{ records: number; minutes: number; partitions: number; cutoff: string }> {
      const now = input.now ? Date.parse(input.now) : Date.now();
      const cutoff = new Date(now - config.GATEHOUSE_USAGE_RETENTION_DAYS * DAY);
      const ctx = activityContext();
      const r = await pruneUsage(fork, cutoff, {
        now: new Date(now),
        onBatch: (deleted) => ctx?.heartbeat(deleted),
        cancelled: () => ctx?.cancellationSignal.aborted ?? false,
      });
      return { ...r, cutoff: cutoff.toISOString() };
    },

    /**
     * The daily upkeep of usage_record's day partitions: drops the days retention ends, makes the
     * days ahead, and moves records DEFAULT caught into their day (logged: it means a day had no
     * partition when its records came).
     */
    async maintainUsagePartitions(input: { now?: string } = {}): Promise<PartitionUpkeep & { cutoff: string }> {
      const now = input.now ? Date.parse(input.now) : Date.now();
      const cutoff = new Date(now - config.GATEHOUSE_USAGE_RETENTION_DAYS * DAY);
      const r = await maintainUsagePartitions(fork(), { now: new Date(now), cutoff });
      if (r.moved > 0) log.warn({ moved: r.moved, created: r.created }, 'usage records caught by the DEFAULT partition moved into their days');
      return { ...r, cutoff: cutoff.toISOString() };
    },
  };
}
