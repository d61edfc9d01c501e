import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityManager } from '@mikro-orm/postgresql';
import { raiseEvent } from '../../core/events.js';
import { pino } from 'pino';
import type { Logger } from '../../core/log.js';
import { DispatchMarks } from '../../core/webhooks/dispatch-marks.js';
import { fanoutWorkflowId } from '../../temporal/workflow-ids.js';
import { outboxSweepWorkflow } from '../../workflows/outbox-sweep.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver } from './receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  stack = await startStack();
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

async function dispatchedAt(eventId: string): Promise<string | null> {
  const [row] = await stack.orm.em.fork().execute<{ dispatched_at: string | null }[]>('select dispatched_at from event where id = ?', [eventId]);
  return row!.dispatched_at;
}

/** A workspace with one endpoint on the receiver, and a way to raise events in it with the given marks. */
async function workspaceWithEndpoint(path: string) {
  const { workspaceId, secret: key } = await stack.workspace(['admin']);
  await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}${path}`, event_types: ['export.completed'] } });
  const raise = (dispatched: DispatchMarks, n: number) =>
    raiseEvent(
      { em: stack.orm.em.fork(), temporal: stack.temporal, log: stack.deps.log, config: stack.config, dispatched },
      { workspaceId, type: 'export.completed', payload: { n } },
    );
  return { workspaceId, key, raise };
}

describe('events marked dispatched in batches', () => {
  it('writes a full batch at once and the rest on flush, each event once its workflow started', async () => {
    const { raise } = await workspaceWithEndpoint('/marks/batch');
    // A timer that never fires within the test: only the batch size and flush() write.
    const marks = new DispatchMarks({ em: () => stack.orm.em.fork() as EntityManager, log: stack.deps.log, everyMs: 600_000, maxBatch: 3 });
    const first = await Promise.all([1, 2, 3].map((n) => raise(marks, n)));
    // The third mark filled the batch: the three are written together, without waiting for the timer.
    await marks.flush();
    for (const ev of first) expect(await dispatchedAt(ev.id)).not.toBeNull();

    const last = await raise(marks, 4);
    // Delivered already (its workflow started), and not yet marked: the mark waits for its batch.
    await rx.waitFor('/marks/batch', 4);
    expect(await dispatchedAt(last.id)).toBeNull();
    await marks.flush();
    expect(await dispatchedAt(last.id)).not.toBeNull();
  });

  it('leaves an event whose mark was never written to the sweeper, which delivers nothing twice', async () => {
    const { raise } = await workspaceWithEndpoint('/marks/lost');
    // A process that died before its batch was written: the marks are never flushed.
    const lost = new DispatchMarks({ em: () => stack.orm.em.fork() as EntityManager, log: stack.deps.log, everyMs: 600_000 });
    const ev = await raise(lost, 1);
    await rx.waitFor('/marks/lost', 1);
    expect(await dispatchedAt(ev.id)).toBeNull();

    await stack.temporal.client.workflow.execute(outboxSweepWorkflow, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, workflowId: `outbox-sweep-marks-${ev.id}`, args: [0] });
    // The sweeper's fan-out found the delivery under way or done, and started no second run of it.
    expect(await stack.temporal.client.workflow.getHandle(fanoutWorkflowId(ev.id)).result()).toMatchObject({ started: 0 });
    expect(await dispatchedAt(ev.id)).not.toBeNull();
    expect(rx.at('/marks/lost')).toHaveLength(1);
  });

  it('logs a batch it could not write and keeps going, the events left to the sweeper', async () => {
    const { raise } = await workspaceWithEndpoint('/marks/failing');
    const lines: string[] = [];
    const log: Logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    let broken = true;
    const marks = new DispatchMarks({
      em: () => {
        if (broken) throw new Error('connection refused');
        return stack.orm.em.fork() as EntityManager;
      },
      log,
      everyMs: 600_000,
    });
    const ev = await raise(marks, 1);
    await expect(marks.flush()).resolves.toBeUndefined();
    expect(await dispatchedAt(ev.id)).toBeNull();
    expect(lines.join('\n')).toMatch(/events not marked dispatched/);

    broken = false;
    const next = await raise(marks, 2);
    await marks.flush();
    expect(await dispatchedAt(next.id)).not.toBeNull();
  });

  it('marks an event published through POST /events soon after it is accepted', async () => {
    const { key } = await workspaceWithEndpoint('/marks/api');
    const pub = await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: {} } });
    expect(pub.status).toBe(202);
    const at = await eventually(() => dispatchedAt(pub.body.id), (d) => d !== null);
    expect(at).not.toBeNull();
  });
});
