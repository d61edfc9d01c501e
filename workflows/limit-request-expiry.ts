import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { expireLimitRequests } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/**
 * Run by the `limit-request-expiry:<taskQueue>` Schedule every hour: pending limit requests older
 * than GATEHOUSE_LIMIT_REQUEST_TTL_DAYS expire, and their workspaces hear `limits.request.decided`.
 */
export async function limitRequestExpiryWorkflow(): Promise<{ expired: number }> {
  return expireLimitRequests();
}
