// The engine floor of `npm run bench -- webhooks`: one workflow running one activity that does
// nothing. Bench-only; never part of the production bundle (workflows/index.ts).
import { proxyActivities } from '@temporalio/workflow';

interface FloorActivities {
  noop(n: number): Promise<void>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '30 seconds' });

export async function noopWorkflow(n: number): Promise<void> {
  await noop(n);
}
