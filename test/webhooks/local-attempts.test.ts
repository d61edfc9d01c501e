import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

/**
 * A delivery's attempts run as local activities, inside the workflow task (workflows/delivery.ts):
 * what a delivery costs the Temporal server is a workflow task and a marker, not an activity task and
 * a second workflow task (BENCHMARKS.md, "Attempts as local activities"). What outlasts the local
 * activity's minute of retries goes on as the regular activity.
 */

let stack: Stack;
let rx: Receiver;
/** Set by a test: local attempts fail, as when Gatehouse's own trouble outlasts their minute. */
let localAttemptsFail = false;

beforeAll(async () => {
  rx = await new Receiver().start();
  stack = await startStack({
    activities: (made) => ({
      ...made,
      attemptDelivery: (input) => {
        if (localAttemptsFail && Context.current().info.isLocal) throw ApplicationFailure.nonRetryable('the local attempt is out of retries');
        return made.attemptDelivery(input);
      },
    }),
  });
});

afterAll(async () => {
  await stack.close();
  await rx.close();
});

type HistoryEvent = Record<string, { markerName?: string | null; activityType?: { name?: string | null } | null } | undefined>;

/** Publishes one event to a new endpoint and waits for its delivery to succeed; its workflow's history and the requests received. */
async function deliverOne(path: string, timeoutMs?: number) {
  const { secret: key } = await stack.workspace(['admin']);
  const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: rx.script(path, { status: 200 }), event_types: ['export.completed'] } })).body;
  const pub = await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: { export_id: path } } });
  expect(pub.status).toBe(202);
  const d = await eventually(
    async () => (await stack.rest('GET', `/events/${pub.body.id}/deliveries`, { key })).body.deliveries[0] as { status: string; workflow_id: string } | undefined,
    (x) => x?.status === 'succeeded',
    timeoutMs,
  );
  const handle = stack.temporal.client.workflow.getHandle(d!.workflow_id);
  expect(await handle.result()).toMatchObject({ status: 'succeeded', attempts: 1 });
  const events = ((await handle.fetchHistory()).events ?? []) as unknown as HistoryEvent[];
  return { events, received: rx.at(path), secret: ep.secret as string };
}

const markers = (events: HistoryEvent[]) => events.flatMap((e) => (e.markerRecordedEventAttributes ? [e.markerRecordedEventAttributes.markerName] : []));
const activityTasks = (events: HistoryEvent[]) => events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));

describe('a delivery attempt', () => {
  it('runs inside the workflow task: one local-activity marker, no activity task, one workflow task', async () => {
    const { events, received, secret } = await deliverOne('/local');
    expect(received).toHaveLength(1);
    expect(verify(secret, received[0]!)).toMatchObject({ type: 'export.completed' });
    expect(activityTasks(events)).toEqual([]);
    expect(markers(events).filter((m) => m === 'core_local_activity')).toHaveLength(1);
    expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
  });

  it('goes on as a regular activity when the local one gives up, and is sent once', async () => {
    localAttemptsFail = true;
    try {
      const { events, received, secret } = await deliverOne('/fallback');
      expect(received).toHaveLength(1);
      expect(verify(secret, received[0]!)).toMatchObject({ type: 'export.completed' });
      expect(activityTasks(events)).toEqual(['attemptDelivery']);
      expect(markers(events)).toContain('core_local_activity');
    } finally {
      localAttemptsFail = false;
    }
  });

  it("runs beside 60 attempts an endpoint holds open: another workspace's delivery is not kept waiting", async () => {
    // A local activity keeps its workflow task open: with the SDK's default of 40 workflow tasks at a
    // time, 40 attempts hanging on one endpoint would stop every other workflow on the worker.
    const held: ServerResponse[] = [];
    const hanging = http.createServer((req, res) => {
      req.resume();
      held.push(res);
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    try {
      const { secret: key } = await stack.workspace(['admin']);
      const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hangs`;
      expect((await stack.rest('POST', '/webhooks', { key, body: { url, event_types: ['export.completed'] } })).status).toBe(201);
      for (let i = 0; i < 60; i++) await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: { export_id: `hang-${i}` } } });
      // The worker's agent opens at most 50 sockets to one endpoint; the other 10 attempts wait for one.
      // Both waits end well within the 15 s after which the held attempts time out and free their slots.
      await eventually(async () => held.length, (n) => n >= 50, 10_000);
      const { received } = await deliverOne('/beside-hanging', 10_000);
      expect(received).toHaveLength(1);
    } finally {
      for (const res of held) res.end();
      hanging.closeAllConnections();
      await new Promise((r) => hanging.close(r));
    }
  });
});
