import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKey } from '../../core/keys/rotation/commands.js';
import { rotationWorkflowId } from '../../temporal/workflow-ids.js';
import { authenticate } from '../../server/auth/authenticate.js';
import { keyRotationWorkflow, rotationStateQuery, type RotationInput } from '../../workflows/rotation.js';
import { startStack, type Stack } from '../harness.js';

// A key id can be deleted and used again; its rotations must never be mistaken for those of the
// key that held the id before (same workspace, same id, same rotation number).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function setup() {
  const ws = await stack.workspace(['admin']);
  const as = (method: string, path: string, body?: unknown) => stack.rest(method, path, { key: ws.secret, body });
  const verify = async (secret: string) => (await as('POST', '/v1/keys/verify', { key: secret })).body as { valid: boolean; code: string };
  const pkOf = async (keyId: string) => {
    const [row] = await stack.orm.em
      .fork()
      .execute<{ pk: string }[]>(`select pk from api_key where workspace_id = ? and id = ?`, [ws.workspaceId, keyId]);
    return row!.pk;
  };
  return { ws, as, verify, pkOf };
}

/** Key `keyId` is created, rotated, its grace ended, and deleted; then a new key takes the same id. */
async function reusedId(s: Awaited<ReturnType<typeof setup>>, keyId: string) {
  const first = await s.as('POST', '/api-keys', { id: keyId, permissions: ['read-only'] });
  expect(first.status).toBe(201);
  expect((await s.as('POST', `/api-keys/${keyId}/rotate`, { grace_period_seconds: 3600 })).status).toBe(201);
  expect((await s.as('POST', `/api-keys/${keyId}/rotation/end-grace`, {})).body.phase).toBe('completed');
  expect((await s.as('DELETE', `/api-keys/${keyId}`)).status).toBe(200);

  const second = await s.as('POST', '/api-keys', { id: keyId, permissions: ['read-only'] });
  expect(second.status).toBe(201);
  return { oldSecret: second.body.api_key as string };
}

describe('a rotation of a key whose id was used before', () => {
  it('end-grace stops the new key\'s pre-rotation secret at once, and the state says the grace ended', async () => {
    const s = await setup();
    const { oldSecret } = await reusedId(s, 'reused');
    const rotated = await s.as('POST', '/api-keys/reused/rotate', { grace_period_seconds: 6 * 24 * 3600 });
    expect(rotated.status).toBe(201);
    expect((await s.verify(oldSecret)).valid).toBe(true);

    const ended = await s.as('POST', '/api-keys/reused/rotation/end-grace', {});
    expect(ended.status).toBe(200);
    expect(await s.verify(oldSecret)).toMatchObject({ valid: false });
    expect(await s.verify(rotated.body.api_key)).toMatchObject({ valid: true });
    expect(ended.body).toMatchObject({ phase: 'completed', rotated_at: rotated.body.created_at });

    const after = await s.as('GET', '/api-keys/reused/rotation');
    expect(after.body).toMatchObject({ phase: 'completed', rotated_at: rotated.body.created_at, completed_at: ended.body.completed_at });
  });

  it('the state and extend-grace are those of the new key\'s rotation', async () => {
    const s = await setup();
    const { oldSecret } = await reusedId(s, 'reused-extend');
    const rotated = await s.as('POST', '/api-keys/reused-extend/rotate', { grace_period_seconds: 3600 });
    expect(rotated.status).toBe(201);

    const state = await s.as('GET', '/api-keys/reused-extend/rotation');
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({
      rotation: 1,
      phase: 'grace',
      rotated_at: rotated.body.created_at,
      grace_ends_at: rotated.body.previous_key_expires_at,
      completed_at: null,
    });

    const extended = await s.as('POST', '/api-keys/reused-extend/rotation/extend-grace', { seconds: 3600 });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.grace_ends_at)).toBe(Date.parse(rotated.body.previous_key_expires_at) + 3600_000);
    expect((await s.verify(oldSecret)).valid).toBe(true);
  });

  it('tRPC: rotationState, extendGrace and endGraceNow do the same', async () => {
    const s = await setup();
    const { oldSecret } = await reusedId(s, 'reused-trpc');
    const caller = await stack.caller(s.ws.secret);
    const rotated = await caller.keys.rotate({ id: 'reused-trpc', gracePeriodSeconds: 3600 });
    expect(await caller.keys.rotationState({ id: 'reused-trpc' })).toMatchObject({ phase: 'grace', rotatedAt: rotated.createdAt });
    const extended = await caller.keys.extendGrace({ id: 'reused-trpc', seconds: 60 });
    expect(Date.parse(extended.graceEndsAt)).toBe(Date.parse(rotated.previousKeyExpiresAt) + 60_000);
    expect(await caller.keys.endGraceNow({ id: 'reused-trpc' })).toMatchObject({ phase: 'completed', rotatedAt: rotated.createdAt });
    expect((await s.verify(oldSecret)).valid).toBe(false);
    expect(await caller.keys.rotationState({ id: 'reused-trpc' })).toMatchObject({ phase: 'completed', rotatedAt: rotated.createdAt });
    // Named by the key's primary key, which no later key with the same id shares.
    expect(rotated.workflowId).toBe(rotationWorkflowId(s.ws.workspaceId, await s.pkOf('reused-trpc'), 1));
  });
});

/**
 * Rotations started before workflow ids named the key's primary key are named
 * `rotation:<ws>:<keyId>:<n>`. One of those that belongs to the key is still the one to talk to;
 * one left by an earlier key with the same id is not.
 */
describe('rotation workflows named by key id (before ids named the primary key)', () => {
  const legacyId = (ws: string, keyId: string, n: number) => `rotation:${ws}:${keyId}:${n}`;

  /** Rotates with Temporal unreachable, so no workflow is started, and returns that rotation's workflow input. */
  async function rotateOffline(s: Awaited<ReturnType<typeof setup>>, keyId: string, grace: number): Promise<{ input: RotationInput; secret: string }> {
    const dead = await Connection.connect({ address: stack.config.TEMPORAL_ADDRESS! });
    await dead.close();
    const temporal = { ...stack.temporal, connection: dead, client: new Client({ connection: dead, namespace: stack.config.TEMPORAL_NAMESPACE }) };
    const actor = { ...(await authenticate(stack.orm.em.fork() as never, s.ws.secret))!, ip: '127.0.0.1' };
    const r = await rotateKey({ em: stack.orm.em.fork() as never, temporal, log: stack.deps.log, config: stack.config }, { actor, keyId, gracePeriodSeconds: grace });
    expect(r.workflowStarted).toBe(false);
    const input: RotationInput = {
      workspaceId: s.ws.workspaceId,
      keyPk: await s.pkOf(keyId),
      keyId,
      rotation: r.rotation,
      rotatedAt: r.createdAt.toISOString(),
      graceEndsAt: r.previousKeyExpiresAt.toISOString(),
    };
    return { input, secret: r.secret };
  }

  const startLegacy = (input: RotationInput) =>
    stack.temporal.client.workflow.start(keyRotationWorkflow, {
      taskQueue: stack.temporal.taskQueue,
      workflowId: legacyId(input.workspaceId, input.keyId, input.rotation),
      args: [input],
    });

  it("the key's own running workflow is found and ended; no second workflow is started", async () => {
    const s = await setup();
    const created = await s.as('POST', '/api-keys', { id: 'legacy-own', permissions: ['read-only'] });
    const { input } = await rotateOffline(s, 'legacy-own', 3600);
    const handle = await startLegacy(input);

    expect((await s.as('GET', '/api-keys/legacy-own/rotation')).body).toMatchObject({ phase: 'grace', rotation: 1 });
    const ended = await s.as('POST', '/api-keys/legacy-own/rotation/end-grace', {});
    expect(ended.body).toMatchObject({ phase: 'completed', rotation: 1 });
    expect((await s.verify(created.body.api_key)).valid).toBe(false);
    const current = stack.temporal.client.workflow.getHandle(rotationWorkflowId(s.ws.workspaceId, input.keyPk, 1));
    await expect(current.describe()).rejects.toThrow();
    expect(await handle.query(rotationStateQuery)).toMatchObject({ phase: 'completed', rotation: 1 });
  });

  it("an earlier key's running workflow under the same id is left alone: the new key's rotation gets its own", async () => {
    const s = await setup();
    await s.as('POST', '/api-keys', { id: 'legacy-stale', permissions: ['read-only'] });
    const { input: earlier } = await rotateOffline(s, 'legacy-stale', 3600);
    const stale = await startLegacy(earlier);
    expect((await s.as('DELETE', '/api-keys/legacy-stale')).status).toBe(200);

    const created = await s.as('POST', '/api-keys', { id: 'legacy-stale', permissions: ['read-only'] });
    const { input } = await rotateOffline(s, 'legacy-stale', 3600);
    expect(input.keyPk).not.toBe(earlier.keyPk);

    const state = await s.as('GET', '/api-keys/legacy-stale/rotation');
    expect(state.body).toMatchObject({ phase: 'grace', rotated_at: input.rotatedAt });
    const extended = await s.as('POST', '/api-keys/legacy-stale/rotation/extend-grace', { seconds: 60 });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.grace_ends_at)).toBe(Date.parse(input.graceEndsAt) + 60_000);
    const ended = await s.as('POST', '/api-keys/legacy-stale/rotation/end-grace', {});
    expect(ended.body).toMatchObject({ phase: 'completed', rotated_at: input.rotatedAt });
    expect((await s.verify(created.body.api_key)).valid).toBe(false);

    const own = stack.temporal.client.workflow.getHandle(rotationWorkflowId(s.ws.workspaceId, input.keyPk, 1));
    expect((await own.result()).rotatedAt).toBe(input.rotatedAt);
    // The earlier key's workflow was neither ended nor extended by any of this.
    expect(await stale.query(rotationStateQuery)).toMatchObject({ phase: 'grace', graceEndsAt: earlier.graceEndsAt });
    await stale.terminate('test done');
  });
});
