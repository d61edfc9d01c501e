import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

// An event raised inside a caller's transaction may not be visible yet: the activity retries
// until it is (or, rolled back, never was — then this workflow fails and nothing is sent).
const { dispatchEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 12 },
});

/** `fanout:<eventId>`: starts one delivery workflow per subscribed endpoint, then marks the event dispatched. */
export async function fanoutWorkflow(eventId: string): Promise<{ deliveries: number; started: number }> {
  return dispatchEvent(eventId);
}
