import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { countWorkspaceKeys } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export interface SelfTestResult {
  workspaceId: string;
  keys: number;
  activeKeys: number;
  workflowId: string;
}

/** API → Temporal → worker → PostgreSQL and back: what `system.selfTest` runs for an operator. */
export async function selfTestWorkflow(workspaceId: string): Promise<SelfTestResult> {
  const census = await countWorkspaceKeys(workspaceId);
  return { ...census, workflowId: workflowInfo().workflowId };
}
