// Deliberately broken copies of two workflows, for the test that shows the replay test can fail:
// same workflow types, same activities, commands in another order. Never bundled for a worker.
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { DeliveryInput } from '../../core/webhooks/attempt.js';
import type { DeliveryResult } from '../../workflows/delivery.js';
import type { KeyRemindersInput, KeyRemindersResult } from '../../workflows/key-reminders.js';

const { attemptDelivery, raiseKeyReminders, sweepExpiredRetiredSecrets } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });

/** The sweep moved before the reminders: the recorded run scheduled the reminders first. */
export async function keyRemindersWorkflow(input: KeyRemindersInput): Promise<KeyRemindersResult> {
  const { revoked } = await sweepExpiredRetiredSecrets();
  const reminders = await raiseKeyReminders({ withinDays: input.withinDays });
  return { ...reminders, swept: revoked };
}

/** A pause before the first attempt: the recorded run scheduled the attempt first. */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryResult> {
  await sleep('1 second');
  const outcome = await attemptDelivery({ ...input, attempt: 1 });
  return { deliveryId: input.deliveryId, status: outcome.status, attempts: 1 };
}
