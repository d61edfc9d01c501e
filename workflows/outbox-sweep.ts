import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { sweepOutbox } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by the `outbox-sweep:<taskQueue>` Schedule every minute: events stored but never handed
 * to a fan-out (Temporal was unreachable when they were raised) get their fan-out now.
 */
export async function outboxSweepWorkflow(olderThanMs = 60_000): Promise<{ dispatched: number }> {
  return sweepOutbox(olderThanMs);
}
