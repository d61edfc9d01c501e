import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchedules, OUTBOX_SWEEP_AFTER_MS, scheduleDefinitions, scheduleIds } from '../../temporal/schedules.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

const MINUTE = 60_000;

describe('Schedules at worker start-up', () => {
  it('every Schedule, the outbox sweeper included, exists once the worker has started', async () => {
    const ids = scheduleIds(stack.config);
    for (const def of scheduleDefinitions(stack.config)) {
      const described = await stack.temporal.client.schedule.getHandle(def.scheduleId).describe();
      expect(described.action.taskQueue).toBe(stack.config.TEMPORAL_TASK_QUEUE);
    }
    const sweeper = await stack.temporal.client.schedule.getHandle(ids.outboxSweep).describe();
    expect(sweeper.spec.intervals?.map((i) => i.every)).toEqual([MINUTE]);
    expect(sweeper.action).toMatchObject({ type: 'startWorkflow', workflowType: 'outboxSweepWorkflow', workflowId: ids.outboxSweep, args: [OUTBOX_SWEEP_AFTER_MS] });
    expect(sweeper.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: MINUTE });
  });

  it('brings a Schedule whose definition changed back in line, keeping it paused if an operator paused it', async () => {
    const id = scheduleIds(stack.config).outboxSweep;
    const handle = stack.temporal.client.schedule.getHandle(id);
    // What an older release (or a hand edit) left behind: another interval, argument and policy.
    await handle.update((previous) => ({
      ...previous,
      spec: { intervals: [{ every: '7 minutes' }] },
      action: { type: 'startWorkflow', workflowType: 'outboxSweepWorkflow', taskQueue: stack.config.TEMPORAL_TASK_QUEUE, args: [5], workflowExecutionTimeout: '1 hour' },
      policies: { overlap: ScheduleOverlapPolicy.ALLOW_ALL, catchupWindow: '1 day' },
      state: { ...previous.state, paused: true, note: 'paused by an operator' },
    }));
    expect((await handle.describe()).spec.intervals?.map((i) => i.every)).toEqual([7 * MINUTE]);

    const ensured = await ensureSchedules(stack.temporal.client, stack.config);
    expect(ensured).toContain(id);
    const after = await handle.describe();
    expect(after.spec.intervals?.map((i) => i.every)).toEqual([MINUTE]);
    expect(after.action).toMatchObject({ workflowType: 'outboxSweepWorkflow', workflowId: id, args: [OUTBOX_SWEEP_AFTER_MS], workflowExecutionTimeout: 5 * MINUTE });
    expect(after.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: MINUTE });
    expect(after.state).toMatchObject({ paused: true, note: 'paused by an operator' });

    // A second start-up changes nothing and fails on nothing.
    expect(await ensureSchedules(stack.temporal.client, stack.config)).toEqual(ensured);
    expect((await handle.describe()).spec.intervals?.map((i) => i.every)).toEqual([MINUTE]);
    await handle.unpause();
  });

  it('names every Schedule by its task queue and each workflow by function, so nothing names a workflow by hand', () => {
    const defs = scheduleDefinitions(stack.config);
    expect(defs.map((d) => d.scheduleId).sort()).toEqual(Object.values(scheduleIds(stack.config)).sort());
    for (const d of defs) {
      expect(d.scheduleId.endsWith(`:${stack.config.TEMPORAL_TASK_QUEUE}`)).toBe(true);
      expect(typeof d.action.workflowType).toBe('function');
    }
  });
});
