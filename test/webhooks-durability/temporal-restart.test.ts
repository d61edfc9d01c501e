import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { startTemporalDevServer, type RunningDevServer } from '../../temporal/dev-server.js';
import { createWorker, MAX_WORKFLOW_TASKS } from '../../temporal/worker.js';
import { freePort } from '../free-port.js';
import { startStack, type Stack } from '../harness.js';
import { Receiver } from '../webhooks/receiver.js';
import { arrived, createEndpoints, deliveryStatuses, FAST_RETRIES, pool, publish, report, tally, until, type PublishResult } from './helpers.js';

const ENDPOINTS = 2;
const BEFORE = 60;
const DURING = 20;

// This file's own Temporal dev server, persisting to a SQLite file so its history outlives a kill.
let dir: string;
let port: number;
let temporal: RunningDevServer;
let stack: Stack;
let rx: Receiver;

/**
 * An in-process worker on the stack's task queue that is started again if it ever stops on its own
 * (as `npm start`'s supervisor does for the worker process); connecting waits for Temporal.
 */
class SupervisedWorker {
  starts = 0;
  private worker?: Worker;
  private close?: () => Promise<void>;
  private stopping = false;
  private loop?: Promise<void>;

  start(): void {
    this.loop = this.keepRunning();
  }

  private async keepRunning(): Promise<void> {
    while (!this.stopping) {
      try {
        const { worker, connection } = await createWorker({
          address: stack.config.TEMPORAL_ADDRESS!,
          namespace: stack.config.TEMPORAL_NAMESPACE,
          taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
          activities: createActivities({ orm: stack.orm, log: stack.deps.log, config: stack.config, temporal: stack.temporal }),
          bundle: { codePath: inject('workflowBundlePath') } as never,
        });
        this.starts++;
        this.worker = worker;
        this.close = () => connection.close();
        await worker.run().catch(() => {});
        await connection.close().catch(() => {});
      } catch {
        // Temporal not reachable yet: try again shortly.
      }
      if (!this.stopping) await new Promise((r) => setTimeout(r, 500));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.worker?.getState() === 'RUNNING') this.worker.shutdown();
    await this.loop;
    await this.close?.().catch(() => {});
  }
}

const worker = new SupervisedWorker();

beforeAll(async () => {
  // While the server is down the SDK warns on every retried call; the test asserts the outcome instead.
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // installed already in this fork
  }
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-temporal-restart-'));
  port = await freePort();
  temporal = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
  // The stack (API, its Temporal client) and the worker talk to this server, not the run's shared one.
  stack = await startStack({ worker: false, env: { TEMPORAL_ADDRESS: temporal.address, GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: FAST_RETRIES } });
  expect(stack.config.TEMPORAL_ADDRESS).toBe(temporal.address);
  rx = await new Receiver().start();
  worker.start();
});
afterAll(async () => {
  await worker.stop();
  await rx?.close();
  await stack?.close();
  await temporal?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('webhook delivery survives a restart of the Temporal server', () => {
  it('delivers every event published before and during the outage once Temporal is back, each recorded as succeeded', { timeout: 150_000 }, async () => {
    const endpoints = await createEndpoints(stack, rx, ENDPOINTS);
    const total = (BEFORE + DURING) * ENDPOINTS;

    // Kill the server (SIGKILL: no graceful shutdown) once some of the first events' deliveries arrived.
    let arrivedAtKill = -1;
    const killer = until('some deliveries to arrive', () => arrived(rx) >= (BEFORE * ENDPOINTS) / 4, 60_000, 5).then(async () => {
      temporal.process.kill('SIGKILL');
      arrivedAtKill = arrived(rx);
      await new Promise<void>((r) => (temporal.process.exitCode !== null || temporal.process.signalCode !== null ? r() : temporal.process.once('exit', () => r())));
    });
    const before = pool(BEFORE, 4, (i) => publish(stack, i));
    await killer;
    expect(arrivedAtKill).toBeGreaterThan(0);
    expect(arrivedAtKill).toBeLessThan(BEFORE * ENDPOINTS);

    // Published while Temporal is down: the API stores the event (the outbox) and answers 202.
    const during = pool(DURING, 4, (i) => publish(stack, BEFORE + i));
    const outageStarted = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    temporal = await startTemporalDevServer({ port, dbFile: join(dir, 'temporal.db') });
    const outageMs = Date.now() - outageStarted;

    const published: PublishResult[] = [...(await before), ...(await during)];
    for (const p of published) expect(p.status, JSON.stringify(p.body)).toBe(202);
    const duringMs = (await during).map((p) => Math.round(p.ms));
    const eventIds = published.map((p) => p.id!);
    expect(new Set(eventIds).size).toBe(BEFORE + DURING);

    const backAt = Date.now();
    await until('every delivery to be recorded as succeeded', async () => (await deliveryStatuses(stack))['succeeded'] === total, 120_000, 250);
    const recoveredMs = Date.now() - backAt;
    expect(await deliveryStatuses(stack)).toEqual({ succeeded: total });
    // Every event was handed to its fan-out: none is left for the outbox sweeper (the API's last marks,
    // batched for up to half a second, written first: core/webhooks/dispatch-marks.ts).
    await stack.deps.dispatched.flush();
    const undispatched = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from event where dispatched_at is null`);
    expect(Number(undispatched[0]!.n)).toBe(0);

    const t = tally(rx, endpoints, eventIds);
    report.info(
      { arrivedAtKill, outageMs, recoveredMs, publishDuringOutageMs: { min: Math.min(...duringMs), max: Math.max(...duringMs) }, workerStarts: worker.starts, ...t },
      'Temporal server SIGKILL + restart mid-way: duplicate deliveries seen by the receiver',
    );
    expect(t.distinct).toBe(total);
    // At-least-once: a copy is resent only for an attempt whose completion the dead server never
    // recorded, so one that had started before the kill: at most once per delivery, never for an
    // event published after the kill (its workflow started on the restarted server), and no more
    // than the worker's workflow tasks (each attempt a local activity inside one) hold at once.
    const { duplicatedEvents, maxCopies, ...figures } = t;
    expect(maxCopies, JSON.stringify(figures)).toBeLessThanOrEqual(2);
    const publishedDuringOutage = new Set(eventIds.slice(BEFORE));
    expect(duplicatedEvents.filter((id) => publishedDuringOutage.has(id))).toEqual([]);
    expect(t.duplicates, `${t.duplicates} duplicate(s) of ${total} deliveries after a Temporal restart`).toBeLessThanOrEqual(MAX_WORKFLOW_TASKS);
  });
});
