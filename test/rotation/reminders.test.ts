import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchedules, scheduleIds } from '../../temporal/schedules.js';
import type { KeyRemindersResult } from '../../workflows/key-reminders.js';
import { startStack, type Stack } from '../harness.js';
import { addKey, events, hashOf, secretRow, waitFor } from './helpers.js';

let stack: Stack;
let schedule: ScheduleHandle;
let created: string[] = [];
beforeAll(async () => {
  stack = await startStack();
  // An hour apart: every run in this file is one the test triggers.
  created = await ensureSchedules(stack.temporal.client, stack.config, { keyReminders: { intervalSeconds: 3600 } });
  schedule = stack.temporal.client.schedule.getHandle(scheduleIds(stack.config).keyReminders);
});
afterAll(async () => {
  // Schedules outlive the test's task queue: remove every one this file created.
  for (const id of created) await stack.temporal.client.schedule.getHandle(id).delete().catch(() => undefined);
  await stack.close();
});

/** Triggers the schedule and waits for the run it started to finish. */
async function runReminders(): Promise<KeyRemindersResult> {
  const before = (await schedule.describe()).info.numActionsTaken;
  await schedule.trigger();
  const action = await waitFor('the triggered run', async () => {
    const info = (await schedule.describe()).info;
    return info.numActionsTaken > before ? info.recentActions.at(-1) : undefined;
  });
  const { workflowId, firstExecutionRunId } = action.action.workflow;
  return stack.temporal.client.workflow.getHandle<(i: unknown) => Promise<KeyRemindersResult>>(workflowId, firstExecutionRunId).result();
}

async function reminderEvents(workspaceId: string) {
  const all = await events(stack, workspaceId);
  return all.filter((e) => e.type === 'key.rotation_due' || e.type === 'key.expiring');
}

describe('key reminders schedule', () => {
  it('is created idempotently, set to skip overlaps and to catch up one interval missed in an outage', async () => {
    const again = await ensureSchedules(stack.temporal.client, stack.config, { keyReminders: { intervalSeconds: 3600 } });
    expect(again).toContain(scheduleIds(stack.config).keyReminders);
    const described = await schedule.describe();
    expect(described.policies.overlap).toBe('SKIP');
    expect(described.policies.catchupWindow).toBe(3600 * 1000);
    expect(described.spec.intervals?.[0]?.every).toBe(3600 * 1000);
    expect(described.action).toMatchObject({ workflowType: 'keyRemindersWorkflow', taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
  });

  it('raises key.rotation_due and key.expiring once per key and due date', async () => {
    const ws = await stack.workspace(['admin']);
    const dueSoon = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 30, createdDaysAgo: 25 });
    const overdue = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 30, createdDaysAgo: 40 });
    const notDue = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 90, createdDaysAgo: 1 });
    const expiring = await addKey(stack, ws.workspaceId, { expiresInDays: 3 });
    const expiringLater = await addKey(stack, ws.workspaceId, { expiresInDays: 30 });
    const revoked = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 30, createdDaysAgo: 40, revoked: true });
    const disabled = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 30, createdDaysAgo: 40, enabled: false });
    const shortPolicy = await addKey(stack, ws.workspaceId, { rotationPolicyDays: 5, createdDaysAgo: 10 });

    const first = await runReminders();
    expect(first.rotationDue).toBeGreaterThanOrEqual(3);
    const raised = await reminderEvents(ws.workspaceId);
    const byKey = (type: string) => raised.filter((e) => e.type === type).map((e) => e.payload['key_id']).sort();
    expect(byKey('key.rotation_due')).toEqual([dueSoon.keyId, overdue.keyId, shortPolicy.keyId].sort());
    expect(byKey('key.expiring')).toEqual([expiring.keyId]);
    for (const quiet of [notDue, expiringLater, revoked, disabled]) expect(JSON.stringify(raised)).not.toContain(`"${quiet.keyId}"`);

    const soon = raised.find((e) => e.payload['key_id'] === dueSoon.keyId)!;
    expect(soon.payload['overdue']).toBe(false);
    const daysAhead = (Date.parse(String(soon.payload['due_at'])) - Date.now()) / 86_400_000;
    expect(daysAhead).toBeGreaterThan(4.9);
    expect(daysAhead).toBeLessThan(5.1);
    expect(raised.find((e) => e.payload['key_id'] === overdue.keyId)!.payload['overdue']).toBe(true);

    // The next day's run (here: the next trigger) raises nothing new.
    const second = await runReminders();
    expect(second).toMatchObject({ rotationDue: 0, expiring: 0 });
    expect(await reminderEvents(ws.workspaceId)).toHaveLength(raised.length);

    // Rotating moves the due date: 5 days from now is still within the window, so one new reminder.
    const rotated = await stack.rest('POST', `/api-keys/${shortPolicy.keyId}/rotate`, { key: ws.secret, body: { grace_period_seconds: 0 } });
    expect(rotated.status).toBe(201);
    // And a rotation 30 days out is not due yet: nothing for the overdue key after its rotation.
    expect((await stack.rest('POST', `/api-keys/${overdue.keyId}/rotate`, { key: ws.secret, body: { grace_period_seconds: 0 } })).status).toBe(201);
    await runReminders();
    const after = (await reminderEvents(ws.workspaceId)).filter((e) => e.payload['key_id'] === shortPolicy.keyId);
    expect(after).toHaveLength(2);
    expect(after[0]!.payload['due_at']).not.toBe(after[1]!.payload['due_at']);
    expect((await reminderEvents(ws.workspaceId)).filter((e) => e.payload['key_id'] === overdue.keyId)).toHaveLength(1);
  });

  it('revokes retired secrets whose rotation workflow never ran, once', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await addKey(stack, ws.workspaceId);
    const em = stack.orm.em.fork();
    // As a rotation leaves it when Temporal was unreachable: retired secret past its grace, not revoked.
    await em.execute(`update api_key_secret set expires_at = now() - interval '2 minutes' where hash = ?`, [hashOf(stack, key.secret)]);
    await em.execute(`update api_key set rotation_count = 1, last_rotated_at = now() - interval '3 minutes' where pk = ?`, [key.pk]);

    const result = await runReminders();
    expect(result.swept).toBeGreaterThanOrEqual(1);
    expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
    const revoked = await events(stack, ws.workspaceId, 'key.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.payload).toMatchObject({ key_id: key.keyId, rotation: 1, reason: 'rotation' });
    await runReminders();
    expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);
  });

  it('runs on its own at the configured interval', async () => {
    await ensureSchedules(stack.temporal.client, stack.config, { keyReminders: { intervalSeconds: 2 } });
    try {
      const start = (await schedule.describe()).info.numActionsTaken;
      const info = await waitFor(
        'two scheduled runs',
        async () => {
          const i = (await schedule.describe()).info;
          return i.numActionsTaken >= start + 2 ? i : undefined;
        },
        15_000,
        250,
      );
      expect(info.recentActions.length).toBeGreaterThanOrEqual(2);
    } finally {
      await ensureSchedules(stack.temporal.client, stack.config, { keyReminders: { intervalSeconds: 3600 } });
    }
  });
});
