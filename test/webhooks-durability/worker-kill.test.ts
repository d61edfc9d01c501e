import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WORKFLOW_TASKS } from '../../temporal/worker.js';
import { startStack, type Stack } from '../harness.js';
import { Receiver } from '../webhooks/receiver.js';
import {
  arrived,
  createEndpoints,
  deliveryStatuses,
  FAST_RETRIES,
  killWorker,
  pool,
  publish,
  report,
  spawnWorker,
  tally,
  until,
  type WorkerProcess,
} from './helpers.js';

const EVENTS = 300;
const ENDPOINTS = 3;
const TOTAL = EVENTS * ENDPOINTS;

// No worker in this process: the worker is a separate `node temporal/worker-main.ts`, killed with SIGKILL.
let stack: Stack;
let rx: Receiver;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: FAST_RETRIES } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  for (const w of workers) await killWorker(w, 'SIGTERM');
  await rx?.close();
  await stack?.close();
});

describe('webhook delivery survives a worker killed with SIGKILL', () => {
  it('delivers all 900 deliveries of 300 events to 3 endpoints, each recorded as succeeded; duplicates carry the same webhook-id', { timeout: 150_000 }, async () => {
    const t0 = Date.now();
    const endpoints = await createEndpoints(stack, rx, ENDPOINTS);
    const first = spawnWorker(stack);
    workers.push(first);

    // Publish through the REST API while the worker delivers; kill it once a third has arrived.
    let arrivedAtKill = -1;
    let killedAfterMs = -1;
    const killer = until(
      'a third of the deliveries to arrive',
      () => {
        if (first.child.exitCode !== null) throw new Error(`worker exited on its own:\n${first.output.join('')}`);
        return arrived(rx) >= TOTAL / 3;
      },
      90_000,
      5,
    ).then(async () => {
      first.child.kill('SIGKILL');
      arrivedAtKill = arrived(rx);
      killedAfterMs = Date.now() - t0;
      await first.exited;
    });
    const published = await pool(EVENTS, 8, (i) => publish(stack, i));
    for (const p of published) expect(p.status, JSON.stringify(p.body)).toBe(202);
    const eventIds = published.map((p) => p.id!);
    expect(new Set(eventIds).size).toBe(EVENTS);
    await killer;
    expect(first.child.signalCode).toBe('SIGKILL');
    // The premise of the test: the kill came mid-way.
    expect(arrivedAtKill).toBeGreaterThan(0);
    expect(arrivedAtKill).toBeLessThan(TOTAL);

    // Nothing moves while no worker runs.
    const stalled = arrived(rx);
    await new Promise((r) => setTimeout(r, 500));
    expect(arrived(rx)).toBe(stalled);

    const restartedAt = Date.now();
    const second = spawnWorker(stack);
    workers.push(second);
    // Attempts the killed worker held are made again once their workflow tasks time out (10 s).
    await until(
      'every delivery to be recorded as succeeded',
      async () => {
        if (second.child.exitCode !== null) throw new Error(`second worker exited:\n${second.output.join('')}`);
        return (await deliveryStatuses(stack))['succeeded'] === TOTAL;
      },
      110_000,
      250,
    );
    const recoveredMs = Date.now() - restartedAt;
    expect(await deliveryStatuses(stack)).toEqual({ succeeded: TOTAL });

    const t = tally(rx, endpoints, eventIds);
    report.info({ arrivedAtKill, killedAfterMs, recoveredMs, ...t }, 'worker SIGKILL mid-way: duplicate deliveries seen by the receiver');
    expect(t.distinct).toBe(TOTAL);
    // At-least-once: a copy is resent only for a delivery whose workflow task the killed worker held
    // (its attempt, a local activity, running or done but not yet in history), and a worker holds at
    // most MAX_WORKFLOW_TASKS at once.
    expect(t.duplicates, `${t.duplicates} duplicate(s) of ${TOTAL} deliveries after one SIGKILL`).toBeLessThanOrEqual(MAX_WORKFLOW_TASKS);

    // Every delivery has a recorded successful attempt; none is marked failed or stuck pending.
    const attempts = await stack.orm.em.fork().execute<{ ok: string; deliveries: string }[]>(
      `select count(*) filter (where a.status_code between 200 and 299) as ok, count(distinct a.delivery_id) as deliveries from webhook_attempt a`,
    );
    expect(Number(attempts[0]!.deliveries)).toBe(TOTAL);
    expect(Number(attempts[0]!.ok)).toBeGreaterThanOrEqual(TOTAL);
  });
});
