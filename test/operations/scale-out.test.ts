import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { Receiver } from '../webhooks/receiver.js';
import { report } from '../webhooks-durability/helpers.js';
import { runScaleOut } from './scale-out-run.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  // Fast retries: an attempt cut by the killed worker is not left waiting on a long backoff.
  stack = await startStack({ worker: false, env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' } });
  rx = await new Receiver().start();
}, 120_000);
afterAll(async () => {
  await rx?.close();
  await stack?.close();
});

it('two API processes and two workers, one of each SIGKILLed halfway: nothing accepted is lost beyond the documented bound', { timeout: 240_000 }, async () => {
  const f = await runScaleOut(stack, rx, { events: 60, endpoints: 3, reports: 60, recordsPerReport: 10, verifications: 200, rateLimit: 80, rotations: 6, concurrency: 6 });
  report.info(f, 'scale-out under faults');

  // Every event answered 202 arrived at every endpoint, at least once, under its own webhook-id.
  expect(f.events.accepted).toBeGreaterThan(f.plan.events / 2);
  expect(f.events.missing, 'deliveries that never arrived').toEqual([]);
  // Every rotation that started finished its grace period and revoked the previous secret.
  expect(f.rotations.started).toBe(f.plan.rotations);
  expect(f.rotations.notCompleted).toEqual([]);
  // One limit, two processes: the count is shared, within 1 %; both processes answered.
  expect(f.rateLimit.allowed).toBeLessThanOrEqual(Math.floor(f.rateLimit.limit * 1.01));
  expect(f.rateLimit.allowed + f.rateLimit.refused).toBeGreaterThan(f.rateLimit.limit);
  expect(Object.keys(f.rateLimit.byProcess).length).toBeGreaterThanOrEqual(2);
  // Usage: the processes that stopped gracefully lost nothing; the killed one at most what it
  // accepted in its last flush window (docs/usage.md, "Loss bound"). Nothing is stored twice.
  for (const [label, u] of Object.entries(f.usage)) {
    expect(u.stored, `${label} stored more than it accepted`).toBeLessThanOrEqual(u.accepted);
    if (label === f.killedApi) expect(u.accepted - u.stored, `${label} lost more than its last flush window`).toBeLessThanOrEqual(u.acceptedInLastSecondsBeforeKill);
    else expect(u.stored, `${label} lost usage without being killed`).toBe(u.accepted);
  }
});
