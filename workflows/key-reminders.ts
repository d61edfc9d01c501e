import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

export interface KeyRemindersInput {
  /** Remind this many days ahead of a rotation due date or an expiry. */
  withinDays: number;
}

export interface KeyRemindersResult {
  rotationDue: number;
  expiring: number;
  /** Retired secrets past their grace that no rotation workflow had revoked. */
  swept: number;
}

const { raiseKeyReminders, sweepExpiredRetiredSecrets } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes', maximumAttempts: 10 },
});

/** Run by the key-reminders Schedule: `key.rotation_due` / `key.expiring`, once per key and date. */
export async function keyRemindersWorkflow(input: KeyRemindersInput): Promise<KeyRemindersResult> {
  const reminders = await raiseKeyReminders({ withinDays: input.withinDays });
  const { revoked } = await sweepExpiredRetiredSecrets();
  return { ...reminders, swept: revoked };
}
