import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { rotateKey } from '../../core/keys/rotation/commands.js';
import { rotationWorkflowId } from '../../temporal/workflow-ids.js';
import { authenticate } from '../../server/auth/authenticate.js';
import { createWorker } from '../../temporal/worker.js';
import { startStack, type Stack } from '../harness.js';
import { addKey, events, secretRow, waitFor, works } from './helpers.js';

// No harness worker: this file starts and stops its own, on the stack's task queue.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

async function runWorker(): Promise<{ worker: Worker; stop(): Promise<void> }> {
  const { worker, connection } = await createWorker({
    address: stack.config.TEMPORAL_ADDRESS!,
    namespace: stack.config.TEMPORAL_NAMESPACE,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    activities: createActivities({ orm: stack.orm, log: stack.deps.log, config: stack.config, temporal: stack.temporal }),
    bundle: { codePath: inject('workflowBundlePath') } as never,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

describe('rotation durability', () => {
  it('a worker restart in the middle of a grace period changes nothing: the old secret is revoked on time', async () => {
    const first = await runWorker();
    try {
      const ws = await stack.workspace(['admin']);
      const key = await addKey(stack, ws.workspaceId);
      const res = await stack.rest('POST', `/api-keys/${key.keyId}/rotate`, { key: ws.secret, body: { grace_period_seconds: 6 } });
      expect(res.status).toBe(201);
      const graceEnd = Date.parse(res.body.previous_key_expires_at);
      const handle = stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1));
      // Wait until the first worker has taken the workflow and set its grace timer.
      await waitFor('the grace timer', async () => {
        const history = await handle.fetchHistory();
        return history.events?.some((e) => e.timerStartedEventAttributes) ?? false;
      });
      await first.stop();

      await new Promise((r) => setTimeout(r, 1500));
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(await works(stack, key.secret)).toBe(true);

      const second = await runWorker();
      try {
        const final = await handle.result();
        expect(final).toMatchObject({ phase: 'completed', rotation: 1 });
        const row = await secretRow(stack, key.secret);
        const revokedAt = new Date(row!.revoked_at!).getTime();
        // On time: not before the grace end, and by the workflow once its grace timer fired (how
        // long after that depends on the machine's load, so no wall-clock bound).
        expect(revokedAt).toBeGreaterThanOrEqual(graceEnd);
        const history = await handle.fetchHistory();
        expect(history.events?.some((e) => e.timerFiredEventAttributes)).toBe(true);
        expect(await works(stack, key.secret)).toBe(false);
        expect(await works(stack, res.body.api_key)).toBe(true);
        expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);
      } finally {
        await second.stop();
      }
    } finally {
      if (first.worker.getState() === 'RUNNING') await first.stop();
    }
  });

  it('with no worker running, end-grace still cuts the old secret off, and the workflow agrees once a worker is back', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await addKey(stack, ws.workspaceId);
    const rotated = await stack.rest('POST', `/api-keys/${key.keyId}/rotate`, { key: ws.secret, body: { grace_period_seconds: 3600 } });
    expect(rotated.status).toBe(201);
    expect(await works(stack, key.secret)).toBe(true);

    const t = Date.now();
    const ended = await stack.rest('POST', `/api-keys/${key.keyId}/rotation/end-grace`, { key: ws.secret });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ phase: 'completed', rotation: 1 });
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(await works(stack, key.secret)).toBe(false);
    expect((await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: key.secret })).status).toBe(401);
    expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
    // Once the row says it stopped, nothing brings the old secret back.
    const ext = await stack.rest('POST', `/api-keys/${key.keyId}/rotation/extend-grace`, { key: ws.secret, body: { seconds: 60 } });
    expect(ext.status).toBe(409);

    const worker = await runWorker();
    try {
      const final = await stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1)).result();
      expect(final.phase).toBe('completed');
      expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);
      expect(await works(stack, rotated.body.api_key)).toBe(true);
    } finally {
      await worker.stop();
    }
  });

  it('Temporal unreachable at rotation: the rotation still holds, the old secret stops at grace end, and the workflow is started later', async () => {
    const ws = await stack.workspace(['admin']);
    const key = await addKey(stack, ws.workspaceId);
    // A client whose connection is already closed: every call to Temporal fails.
    const dead = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS! });
    await dead.close();
    const deadHandle = { ...stack.temporal, connection: dead, client: new Client({ connection: dead, namespace: stack.config.TEMPORAL_NAMESPACE }) };

    const started = Date.now();
    const result = await rotateKey(
      { em: stack.orm.em.fork() as never, temporal: deadHandle, log: stack.deps.log, config: stack.config },
      { actor: { ...(await authenticate(stack.orm.em.fork() as never, ws.secret))!, ip: '127.0.0.1' }, keyId: key.keyId, gracePeriodSeconds: 4 },
    );
    expect(Date.now() - started).toBeLessThan(8000);
    expect(result.workflowStarted).toBe(false);
    expect(await works(stack, result.secret)).toBe(true);
    expect(await works(stack, key.secret)).toBe(true);
    await waitFor('the old secret to stop', async () => !(await works(stack, key.secret)), 8000, 50);
    expect(Date.now()).toBeGreaterThanOrEqual(result.previousKeyExpiresAt.getTime());
    expect((await events(stack, ws.workspaceId, 'key.rotated'))).toHaveLength(1);

    const handle = stack.temporal.client.workflow.getHandle(result.workflowId);
    await expect(handle.describe()).rejects.toThrow();

    // The next call on that rotation starts its workflow from what the database holds.
    const worker = await runWorker();
    try {
      const state = await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: ws.secret });
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({ rotation: 1, grace_ends_at: result.previousKeyExpiresAt.toISOString() });
      const final = await handle.result();
      expect(final.phase).toBe('completed');
      expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
      expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);
      // Starting it again is a no-op: a finished rotation is never run twice.
      const runId = (await handle.describe()).runId;
      const again = await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: ws.secret });
      expect(again.body.phase).toBe('completed');
      expect((await handle.describe()).runId).toBe(runId);
    } finally {
      await worker.stop();
    }
  });
});
