import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../core/config.js';
import type { KeyRemindersInput } from '../workflows/key-reminders.js';
import type { MonthlyRollupInput } from '../workflows/monthly-rollup.js';

const DAY_SECONDS = 24 * 60 * 60;

export interface ScheduleOverrides {
  keyReminders?: {
    /** Default: once a day (at 06:00 UTC). Tests use a few seconds, or trigger the schedule. */
    intervalSeconds?: number;
    /** Remind this many days ahead (default 7). */
    withinDays?: number;
  };
}

/** Schedule ids carry the task queue, so deployments (and test files) sharing a namespace never collide. */
export function scheduleIds(config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>) {
  return { keyReminders: `key-reminders:${config.TEMPORAL_TASK_QUEUE}`, monthlyUsage: `usage-monthly-rollup:${config.TEMPORAL_TASK_QUEUE}` };
}

/**
 * Every Schedule Gatehouse runs. To add one, add an entry here: `ensureSchedules` creates it on
 * the next start-up, or brings an existing one in line with this definition.
 */
export function scheduleDefinitions(config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>, overrides: ScheduleOverrides = {}): ScheduleOptions[] {
  const ids = scheduleIds(config);
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
        workflowType: 'keyRemindersWorkflow',
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
        workflowType: 'monthlyRollupWorkflow',
        workflowId: ids.monthlyUsage,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [{}] satisfies [MonthlyRollupInput],
        workflowExecutionTimeout: '1 day',
      },
      // Missed while Temporal was down for up to a week: run on return (still the right month).
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '7 days' },
    },
  ];
}

/**
 * Creates Gatehouse's Schedules, or updates them to the current definition if they exist, so it
 * is safe on every start-up of every worker. Returns the schedule ids.
 */
export async function ensureSchedules(client: Client, config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>, overrides: ScheduleOverrides = {}): Promise<string[]> {
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
