/**
 * Records the workflow histories that test/replay/replay.test.ts replays:
 *
 *   npx tsx test/replay/capture.ts            # writes the histories missing from test/replay/histories/
 *   npx tsx test/replay/capture.ts --overwrite # writes them all again
 *   npx tsx test/replay/capture.ts --workflows <dir>/workflows/index.ts # with another copy of the workflow code
 *
 * --workflows records what runs started under an earlier version look like (the runs in flight
 * when an install upgrades). Export that version inside the project, where the bundler finds
 * @temporalio/workflow and compiles TypeScript (it does not under node_modules), e.g.
 * `mkdir -p .data/workflows-old && git archive HEAD | tar -x -C .data/workflows-old`, then pass
 * .data/workflows-old/workflows/index.ts.
 *
 * DATABASE_URL=postgres://… uses a running PostgreSQL (else an embedded one is started, as for
 * `npm test`); a Temporal dev server is started from the installed CLI. The script starts the test
 * stack, drives every workflow through the paths worth keeping (a rotation ending by grace expiry,
 * by end-grace, by a newer rotation, after an extension; a delivery that succeeds, retries, gives
 * up, meets 410, is retried now during its backoff (`delivery-local-*`: attempts as local activities;
 * `delivery-*` without it are runs started before); a fan-out; a recovery, and one that continues as new; each Schedule's workflow run once; the self-test), waits for
 * each to complete and writes its history as `<workflow>-<case>.json`.
 *
 * An existing history is kept unless --overwrite is given: it stands for runs started under older
 * workflow code that may still be in flight somewhere, and must keep replaying. After changing a
 * workflow (behind `patched()`), capture the new paths under new case names beside the old ones.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { raiseEvent } from '../../core/events.js';
import { startDeliveryWorkflow } from '../../core/webhooks/dispatch.js';
import { ensureSchedules } from '../../temporal/schedules.js';
import { deliveryWorkflowId, fanoutWorkflowId, recoveryWorkflowId, rotationWorkflowId, signingKeyRotationWorkflowId } from '../../temporal/workflow-ids.js';
import { recoverWorkflow, type RecoverInput } from '../../workflows/recover.js';
import { signingKeyRotationWorkflow, type SigningKeyRotationInput } from '../../workflows/signing-keys.js';
import setupServices from '../global-setup.js';
import { startStack, type Services } from '../harness.js';
import { addKey, waitFor } from '../rotation/helpers.js';
import { Receiver } from '../webhooks/receiver.js';
import { HISTORIES_DIR, historyToJson, SECRET_PATTERN, textsOf } from './fixtures.js';

const overwrite = process.argv.includes('--overwrite');
const workflowsArg = process.argv.indexOf('--workflows');
const workflowsPath = workflowsArg > 0 ? process.argv[workflowsArg + 1] : undefined;
const DEADLINE_MS = 30_000;
const EVENT_TYPE = 'export.completed';

const provided: Partial<Services> = {};
const stopServices = await setupServices({
  provide: (key: keyof Services, value: string) => {
    provided[key] = value;
  },
} as unknown as TestProject);
if (workflowsPath) {
  const noop = () => {};
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
  const bundle = await bundleWorkflowCode({ workflowsPath: resolve(workflowsPath), logger });
  // Beside the default bundle: removed with it.
  provided.workflowBundlePath = join(dirname(provided.workflowBundlePath!), 'workflow-bundle-given.js');
  await writeFile(provided.workflowBundlePath, bundle.code);
}

// Three attempts, 100 ms apart: retries and give-ups take a fraction of a second.
const stack = await startStack({ services: provided as Services, env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' } });
const rx = await new Receiver().start();
/** Every secret handed out while capturing: none may appear in a history. */
const secrets: string[] = [stack.bootstrapKey];
const written: string[] = [];
const scheduleIds = new Set<string>();

try {
  await captureRotations();
  await captureDeliveries();
  await captureFanout();
  await captureRecovery();
  await captureRecoveryContinuingAsNew();
  await captureSchedules();
  await captureSigningKeyRotation();
  await captureSelfTest();
  process.stdout.write(`${written.length} histories written to ${HISTORIES_DIR}\n${written.map((n) => `  ${n}\n`).join('')}`);
} finally {
  for (const id of scheduleIds) await stack.temporal.client.schedule.getHandle(id).delete().catch(() => undefined);
  await rx.close();
  await stack.close();
  await stopServices();
}

/** Waits for the run to complete (it must: a history that ends mid-way proves less), then writes its history. */
async function record(name: string, handle: WorkflowHandle): Promise<void> {
  await withDeadline(`${name} to complete`, handle.result());
  const json = historyToJson(await handle.fetchHistory());
  const texts = textsOf(JSON.parse(json)).join('\n');
  const leaked = secrets.find((s) => texts.includes(s));
  if (leaked !== undefined || SECRET_PATTERN.test(texts)) throw new Error(`${name}: the history holds a secret; not written`);
  const file = `${HISTORIES_DIR}${name}.json`;
  if (existsSync(file) && !overwrite) return;
  await writeFile(file, json);
  written.push(name);
}

async function withDeadline<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function ok<T extends { status: number; body: unknown }>(what: string, expected: number, res: T): T {
  if (res.status !== expected) throw new Error(`${what}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

async function captureRotations(): Promise<void> {
  const ws = await stack.workspace(['admin']);
  secrets.push(ws.secret);
  const post = async (path: string, body: unknown) => ok(path, path.endsWith('/rotate') ? 201 : 200, await stack.rest('POST', path, { key: ws.secret, body }));
  const handle = (pk: string, n: number) => stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, pk, n));
  const rotate = async (keyId: string, graceSeconds: number) => {
    const res = await post(`/api-keys/${keyId}/rotate`, { grace_period_seconds: graceSeconds });
    secrets.push(res.body.api_key as string);
  };

  const expires = await addKey(stack, ws.workspaceId);
  const extended = await addKey(stack, ws.workspaceId);
  const twice = await addKey(stack, ws.workspaceId);
  secrets.push(expires.secret, extended.secret, twice.secret);

  // The timer runs out.
  await rotate(expires.keyId, 1);
  // An extension (an update running an activity), then the longer timer runs out.
  await rotate(extended.keyId, 3);
  await post(`/api-keys/${extended.keyId}/rotation/extend-grace`, { seconds: 1 });
  // A newer rotation ends the first one's grace (a signal); end-grace ends the second's (an update).
  await rotate(twice.keyId, 3600);
  await rotate(twice.keyId, 3600);
  await record('rotation-superseded', handle(twice.pk, 1));
  await post(`/api-keys/${twice.keyId}/rotation/end-grace`, {});
  await record('rotation-end-grace-now', handle(twice.pk, 2));
  await record('rotation-grace-expires', handle(expires.pk, 1));
  await record('rotation-extended', handle(extended.pk, 1));
}

/** A workspace of its own and an endpoint in it subscribed to `export.completed` (a seeded type), answering as scripted. */
async function endpoint(path: string, ...replies: { status: number }[]): Promise<{ key: string; endpointId: string; workspaceId: string }> {
  const ws = await stack.workspace(['admin']);
  const url = rx.script(path, ...replies);
  const ep = ok('POST /webhooks', 201, await stack.rest('POST', '/webhooks', { key: ws.secret, body: { url, event_types: [EVENT_TYPE] } })).body;
  secrets.push(ws.secret, ep.secret as string);
  return { key: ws.secret, endpointId: ep.id as string, workspaceId: ws.workspaceId };
}

async function publish(key: string): Promise<string> {
  return ok('POST /events', 202, await stack.rest('POST', '/events', { key, body: { type: EVENT_TYPE, payload: {} } })).body.id as string;
}

async function captureDeliveries(): Promise<void> {
  const deliver = async (name: string, ...replies: { status: number }[]) => {
    const { key, endpointId } = await endpoint(`/${name}`, ...replies);
    const eventId = await publish(key);
    return stack.temporal.client.workflow.getHandle(deliveryWorkflowId(eventId, endpointId));
  };
  const handles = {
    'delivery-local-succeeds': await deliver('succeeds', { status: 200 }),
    'delivery-local-retries-then-succeeds': await deliver('retries', { status: 500 }, { status: 500 }, { status: 200 }),
    'delivery-local-exhausted': await deliver('exhausted', { status: 500 }),
    'delivery-local-gone-410': await deliver('gone', { status: 410 }),
  };
  for (const [name, handle] of Object.entries(handles)) await record(name, handle);
  await record('delivery-local-retried-now', await retriedNow());
}

/**
 * "Retry now" (the retryNow signal) ending an hour's backoff. The stack's schedule is 100 ms, too
 * short to signal into, so this delivery's workflow is started by hand with an hour's wait: its
 * row is made by publishing while the endpoint is paused (held, never started).
 */
async function retriedNow(): Promise<WorkflowHandle> {
  const { key, endpointId, workspaceId } = await endpoint('/retried-now', { status: 500 }, { status: 200 });
  ok('PATCH pause', 200, await stack.rest('PATCH', `/webhooks/${endpointId}`, { key, body: { status: 'paused' } }));
  const eventId = await publish(key);
  const held = ok('GET held', 200, await stack.rest('GET', `/webhooks/${endpointId}/deliveries?status=paused`, { key })).body.deliveries[0];
  // Active again without releasing the held delivery: this script starts it itself.
  await stack.orm.em.fork().execute(`update webhook_endpoint set status = 'active' where id = ?`, [endpointId]);
  await stack.orm.em.fork().execute(`update webhook_delivery set status = 'pending' where id = ?`, [held.id]);
  await startDeliveryWorkflow(
    stack.temporal,
    { deliveryId: held.id as string, eventId, endpointId, workspaceId, eventType: EVENT_TYPE },
    { trigger: 'scheduled', scheduleMs: [0, 3_600_000, 3_600_000], attemptTimeoutMs: 5_000 },
  );
  await waitFor('the delivery to wait for its retry', async () => (await stack.rest('GET', `/deliveries/${held.id}`, { key })).body.status === 'retrying', DEADLINE_MS);
  ok('POST replay (retry now)', 202, await stack.rest('POST', `/deliveries/${held.id}/replay`, { key }));
  return stack.temporal.client.workflow.getHandle(deliveryWorkflowId(eventId, endpointId));
}

async function captureFanout(): Promise<void> {
  const { key, workspaceId } = await endpoint('/fanout-a', { status: 200 });
  const second = ok('POST /webhooks', 201, await stack.rest('POST', '/webhooks', { key, body: { url: rx.script('/fanout-b', { status: 200 }), event_types: [EVENT_TYPE] } })).body;
  secrets.push(second.secret as string);
  // Raised without the API's config, as an activity inside a transaction would: through `fanout:<eventId>`.
  const event = await raiseEvent({ em: stack.orm.em.fork(), temporal: stack.temporal }, { workspaceId, type: EVENT_TYPE, payload: {} });
  await record('fanout-two-endpoints', stack.temporal.client.workflow.getHandle(fanoutWorkflowId(event.id)));
  await waitFor('the fan-out deliveries', async () => rx.at('/fanout-a').length > 0 && rx.at('/fanout-b').length > 0, DEADLINE_MS);
}

async function captureRecovery(): Promise<void> {
  const { key, endpointId } = await endpoint('/recover', { status: 503 });
  for (let i = 0; i < 3; i++) await publish(key);
  const failed = () => stack.rest('GET', `/webhooks/${endpointId}/deliveries?status=failed`, { key });
  await waitFor('three failed deliveries', async () => (await failed()).body.deliveries?.length === 3, DEADLINE_MS);
  rx.script('/recover', { status: 200 });
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const started = ok('POST recover', 202, await stack.rest('POST', `/webhooks/${endpointId}/recover`, { key, body: { since } })).body;
  await record('recover-three-failed', stack.temporal.client.workflow.getHandle(started.workflow_id as string));
  await waitFor('the recovered deliveries', async () => (await failed()).body.deliveries?.length === 0, DEADLINE_MS);
}

/** A recovery long enough to continue as new: pages of one, two pages a run (the API starts it with 100 and 50). */
async function captureRecoveryContinuingAsNew(): Promise<void> {
  const { key, endpointId, workspaceId } = await endpoint('/recover-long', { status: 503 });
  const since = new Date(Date.now() - 3_600_000).toISOString();
  for (let i = 0; i < 3; i++) await publish(key);
  const failed = () => stack.rest('GET', `/webhooks/${endpointId}/deliveries?status=failed`, { key });
  await waitFor('three failed deliveries', async () => (await failed()).body.deliveries?.length === 3, DEADLINE_MS);
  rx.script('/recover-long', { status: 200 });
  const workflowId = recoveryWorkflowId(endpointId, 1);
  const input: RecoverInput = { workspaceId, endpointId, since, until: new Date().toISOString(), pageSize: 1, pagesPerRun: 2 };
  const first = await stack.temporal.client.workflow.start(recoverWorkflow, { workflowId, taskQueue: stack.temporal.taskQueue, args: [input], memo: { since } });
  await record('recover-continues-as-new', stack.temporal.client.workflow.getHandle(workflowId, first.firstExecutionRunId));
  await record('recover-resumed', stack.temporal.client.workflow.getHandle(workflowId));
  await waitFor('the recovered deliveries', async () => (await failed()).body.deliveries?.length === 0, DEADLINE_MS);
}

/** Each Schedule triggered once; its run's history is named after the workflow it starts. */
async function captureSchedules(): Promise<void> {
  const { client } = stack.temporal;
  // Reminders an hour apart: the runs recorded are the ones triggered here. Every Schedule in
  // temporal/schedules.ts, the outbox sweeper included.
  for (const id of await ensureSchedules(client, stack.config, { keyReminders: { intervalSeconds: 3600 } })) scheduleIds.add(id);
  // A Schedule's workflow changed behind patched() since its `-scheduled` history was recorded: its
  // current path is recorded under this case name, beside the old run's history.
  const currentCase: Record<string, string> = { monthlyRollupWorkflow: 'scheduled-quota-resets' };

  for (const id of scheduleIds) {
    const schedule = client.schedule.getHandle(id);
    const before = await schedule.describe();
    const workflowType = before.action.workflowType;
    // Its scheduled run waits ten minutes and then a day: captureSigningKeyRotation runs the same workflow with waits of a moment.
    if (workflowType === signingKeyRotationWorkflow.name) continue;
    await schedule.trigger();
    const action = await waitFor(
      `a run of ${id}`,
      async () => {
        const info = (await schedule.describe()).info;
        return info.numActionsTaken > before.info.numActionsTaken ? info.recentActions.at(-1) : undefined;
      },
      DEADLINE_MS,
    );
    const { workflowId, firstExecutionRunId } = action.action.workflow;
    const name = workflowType.replace(/Workflow$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    await record(`${name}-${currentCase[workflowType] ?? 'scheduled'}`, client.workflow.getHandle(workflowId, firstExecutionRunId));
  }
}

/** A signing-key rotation that publishes, promotes, retires and unpublishes, with waits of 100 ms. */
async function captureSigningKeyRotation(): Promise<void> {
  const input: SigningKeyRotationInput = { alg: 'ES256', publishMs: 100, graceMs: 100 };
  const handle = await stack.temporal.client.workflow.start(signingKeyRotationWorkflow, {
    workflowId: signingKeyRotationWorkflowId(stack.config),
    taskQueue: stack.temporal.taskQueue,
    args: [input],
  });
  await record('signing-key-rotation-rotated', handle);
}

async function captureSelfTest(): Promise<void> {
  const caller = await stack.caller();
  const result = await caller.system.selfTest();
  await record('self-test-default', stack.temporal.client.workflow.getHandle(result.workflowId));
}
