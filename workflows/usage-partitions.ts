import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { maintainUsagePartitions } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * Run by the `usage-partitions:<taskQueue>` Schedule once a day: usage_record's day partitions past
 * GATEHOUSE_USAGE_RETENTION_DAYS are dropped, the next days' made, and records the DEFAULT partition
 * caught moved into their day (docs/usage.md, "Storage").
 */
export async function usagePartitionsWorkflow(): Promise<{ created: number; dropped: number; moved: number; deleted: number }> {
  const r = await maintainUsagePartitions({});
  return { created: r.created.length, dropped: r.dropped.length, moved: r.moved, deleted: r.deleted };
}
