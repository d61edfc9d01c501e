import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../core/config.js';
// Schedules name their workflow by function reference: a renamed workflow fails typecheck here.
import { keyRemindersWorkflow, type KeyRemindersInput } from '../workflows/key-reminders.js';
import { monthlyRollupWorkflow, type MonthlyRollupInput } from '../workflows/monthly-rollup.js';
import { outboxSweepWorkflow } from '../workflows/outbox-sweep.js';
import { usagePartitionsWorkflow } from '../workflows/usage-partitions.js';
import { limitRequestExpiryWorkflow } from '../workflows/limit-request-expiry.js';
import { signingKeyRotationWorkflow, type SigningKeyRotationInput } from '../workflows/signing-keys.js';
import { PUBLISH_BEFORE_SIGNING_MS, RETIRED_GRACE_MS } from '../core/oauth/signing-keys.js';
import { scheduleIds } from './workflow-ids.js';

export { scheduleIds };

const DAY_SECONDS = 24 * 60 * 60;
/** The outbox sweeper fans out events stored longer ago than this whose fan-out never started. */
export const OUTBOX_SWEEP_AFTER_MS = 60_000;

/** The settings Schedules read; the rotation interval defaults as in core/config.ts when a caller passes only the task queue. */
export type ScheduleConfig = Pick<Config, 'TEMPORAL_TASK_QUEUE'> & Partial<Pick<Config, 'GATEHOUSE_OAUTH_ROTATION_DAYS'>>;

export interface ScheduleOverrides {
  keyReminders?: {
    /** Default: once a day (at 06:00 UTC). Tests use a few seconds, or trigger the schedule. */
    intervalSeconds?: number;
    /** Remind this many days ahead (default 7). */
    withinDays?: number;
  };
}

/**
 * Every Schedule Gatehouse runs. To add one, add an entry here: `ensureSchedules` creates it on
 * the next worker start-up, or brings an existing one in line with this definition.
 */
export function scheduleDefinitions(config: ScheduleConfig, overrides: ScheduleOverrides = {}): ScheduleOptions[] {
  const ids = scheduleIds(config);
  const rotationDays = config.GATEHOUSE_OAUTH_ROTATION_DAYS ?? 30;
  const reminders = overrides.keyReminders ?? {};
  const everySeconds = reminders.intervalSeconds ?? DAY_SECONDS;
  const args: [KeyRemindersInput] = [{ withinDays: reminders.withinDays ?? 7 }];
  return [
    {
      scheduleId: ids.keyReminders,
      spec: {
        intervals: [{ every: everySeconds * 1000, offset: everySeconds === DAY_SECONDS ? 6 * 60 * 60 * 1000 : 0 }],
      },
      action: {
        type: 'startWorkflow',
        workflowType: keyRemindersWorkflow,
        workflowId: ids.keyReminders,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args,
        workflowExecutionTimeout: '1 hour',
      },
      policies: {
        // A run still going when the next is due: the next is skipped, never stacked.
        overlap: ScheduleOverlapPolicy.SKIP,
        // After an outage shorter than a day, the missed run happens when Temporal is back.
        catchupWindow: `${Math.max(everySeconds, 60)} seconds`,
      },
    },
    {
      // Closes the previous month on the 1st at 00:05 UTC (the month is derived from the run's start).
      scheduleId: ids.monthlyUsage,
      spec: { calendars: [{ dayOfMonth: 1, hour: 0, minute: 5, comment: '1st of each month, 00:05 UTC' }] },
      action: {
        type: 'startWorkflow',
        workflowType: monthlyRollupWorkflow,
        workflowId: ids.monthlyUsage,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{}] satisfies [MonthlyRollupInput],
        workflowExecutionTimeout: '1 day',
      },
      // Missed while Temporal was down for up to a week: run on return (still the right month).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '7 days' },
    },
    {
      // usage_record's day partitions: retention drops whole days, the week ahead is made (00:15 UTC,
      // after the day turned; the API process also makes them at start).
      scheduleId: ids.usagePartitions,
      spec: { calendars: [{ hour: 0, minute: 15, comment: 'every day, 00:15 UTC' }] },
      action: {
        type: 'startWorkflow',
        workflowType: usagePartitionsWorkflow,
        workflowId: ids.usagePartitions,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [],
        workflowExecutionTimeout: '1 hour',
      },
      // Missed while Temporal was down: run on return (a week of days is made ahead).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '7 days' },
    },
    {
      // The outbox safety net: an event whose fan-out could not be started (Temporal unreachable
      // when it was raised) is fanned out within a minute or two.
      scheduleId: ids.outboxSweep,
      spec: { intervals: [{ every: '1 minute' }] },
      action: {
        type: 'startWorkflow',
        workflowType: outboxSweepWorkflow,
        workflowId: ids.outboxSweep,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [OUTBOX_SWEEP_AFTER_MS] satisfies Parameters<typeof outboxSweepWorkflow>,
        workflowExecutionTimeout: '5 minutes',
      },
      // A missed minute is not worth catching up: the next run sweeps the same events.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    },
    {
      // Pending limit requests past GATEHOUSE_LIMIT_REQUEST_TTL_DAYS expire within the hour.
      scheduleId: ids.limitRequestExpiry,
      spec: { intervals: [{ every: '1 hour' }] },
      action: {
        type: 'startWorkflow',
        workflowType: limitRequestExpiryWorkflow,
        workflowId: ids.limitRequestExpiry,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [],
        workflowExecutionTimeout: '1 hour',
      },
      // A missed run is not worth catching up: the next one expires the same requests.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    },
    {
      // The OAuth signing key: publish the next, make it sign, retire the previous (docs/oauth.md).
      scheduleId: ids.signingKeyRotation,
      spec: { intervals: [{ every: `${rotationDays} days` }] },
      action: {
        type: 'startWorkflow',
        workflowType: signingKeyRotationWorkflow,
        workflowId: ids.signingKeyRotation,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{ publishMs: PUBLISH_BEFORE_SIGNING_MS, graceMs: RETIRED_GRACE_MS }] satisfies [SigningKeyRotationInput],
      },
      // A rotation missed while Temporal was down happens on its return; never two at once.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${rotationDays} days` },
    },
  ];
}

/**
 * Creates Gatehouse's Schedules, or updates them to the current definition if they exist, so it
 * is safe on every start-up of every worker (the worker calls it before it polls). A paused
 * Schedule stays paused. Returns the schedule ids.
 */
export async function ensureSchedules(client: Client, config: ScheduleConfig, overrides: ScheduleOverrides = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const def of scheduleDefinitions(config, overrides)) {
    try {
      await client.schedule.create(def);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(def.scheduleId).update((previous) => ({
        spec: def.spec,
        action: def.action,
        policies: def.policies ?? {},
        state: { paused: previous.state.paused, note: previous.state.note },
      }));
    }
    ids.push(def.scheduleId);
  }
  return ids;
}
