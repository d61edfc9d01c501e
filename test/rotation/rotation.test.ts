import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasValidChecksum } from '../../core/keys/secret.js';
import { rotationWorkflowId } from '../../temporal/workflow-ids.js';
import { startStack, type Stack } from '../harness.js';
import { addKey, events, hashOf, historyText, secretRow, waitFor, works } from './helpers.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

/** A workspace with an admin key (the caller) and a read-only key to rotate. */
async function setup() {
  const ws = await stack.workspace(['admin']);
  const key = await addKey(stack, ws.workspaceId);
  const as = (secret: string | null = ws.secret) => ({
    post: (path: string, body?: unknown) => stack.rest('POST', path, { key: secret, body: body ?? {} }),
    get: (path: string) => stack.rest('GET', path, { key: secret }),
  });
  return { ws, key, admin: as(), as };
}

describe('POST /api-keys/{id}/rotate', () => {
  it('returns a new secret once; the old one works through the grace period and stops at its end', async () => {
    const { ws, key, admin } = await setup();
    const res = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 2 });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['api_key', 'created_at', 'id', 'previous_key_expires_at']);
    expect(res.body.id).toBe(key.keyId);
    const fresh: string = res.body.api_key;
    expect(fresh).toMatch(/^gate_sk_live_/);
    expect(hasValidChecksum(fresh)).toBe(true);
    expect(fresh).not.toBe(key.secret);
    const createdAt = Date.parse(res.body.created_at);
    expect(Date.parse(res.body.previous_key_expires_at) - createdAt).toBe(2000);

    expect(await works(stack, fresh)).toBe(true);
    expect(await works(stack, key.secret)).toBe(true);
    // Through the API too (the old key is read-only: it may read its own rotation state).
    expect((await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: key.secret })).status).toBe(200);

    const [row] = await stack.orm.em
      .fork()
      .execute<{ rotation_count: number; start: string; last_rotated_at: Date }[]>(
        `select rotation_count, start, last_rotated_at from api_key where workspace_id = ? and id = ?`,
        [ws.workspaceId, key.keyId],
      );
    expect(row).toMatchObject({ rotation_count: 1, start: `${fresh.slice(0, 17)}***` });
    expect(new Date(row!.last_rotated_at).getTime()).toBe(createdAt);

    const stoppedAt = await waitFor('the old secret to stop', async () => !(await works(stack, key.secret)) && Date.now(), 10_000, 50);
    expect(stoppedAt).toBeGreaterThanOrEqual(createdAt + 2000);
    expect(stoppedAt).toBeLessThan(createdAt + 2000 + 1500);
    expect((await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: key.secret })).status).toBe(401);
    expect(await works(stack, fresh)).toBe(true);

    // The workflow then revokes it for good.
    const handle = stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1));
    const final = await handle.result();
    expect(final).toMatchObject({ phase: 'completed', keyId: key.keyId, rotation: 1 });
    const old = await secretRow(stack, key.secret);
    expect(old?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
    expect(new Date(old!.revoked_at!).getTime()).toBeGreaterThanOrEqual(createdAt + 2000);
    expect((await secretRow(stack, fresh))?.revoked_at).toBeNull();
  });

  it('records key.rotated and key.revoked with ids and times only', async () => {
    const { ws, key, admin } = await setup();
    const res = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    expect(res.status).toBe(201);
    await stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1)).result();

    const rotated = await events(stack, ws.workspaceId, 'key.rotated');
    expect(rotated).toHaveLength(1);
    expect(rotated[0]!.payload).toEqual({
      key_id: key.keyId,
      rotation: 1,
      rotated_at: res.body.created_at,
      previous_key_expires_at: res.body.previous_key_expires_at,
      grace_period_seconds: 0,
    });
    const revoked = await events(stack, ws.workspaceId, 'key.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.payload).toMatchObject({ key_id: key.keyId, reason: 'rotation', rotation: 1 });
    const all = JSON.stringify([...rotated, ...revoked]);
    expect(all).not.toContain(res.body.api_key);
    expect(all).not.toContain(key.secret);
    expect(all).not.toContain(hashOf(stack, key.secret));
  });

  it('grace 0 stops the old secret as the response arrives', async () => {
    const { ws, key, admin } = await setup();
    const res = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    expect(res.status).toBe(201);
    expect(res.body.previous_key_expires_at).toBe(res.body.created_at);
    expect(await works(stack, key.secret)).toBe(false);
    expect(await works(stack, res.body.api_key)).toBe(true);
    const state = await stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1)).result();
    expect(state.phase).toBe('completed');
    expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
  });

  it('defaults to a 24 h grace period', async () => {
    const { key, admin } = await setup();
    const res = await admin.post(`/api-keys/${key.keyId}/rotate`);
    expect(res.status).toBe(201);
    expect(Date.parse(res.body.previous_key_expires_at) - Date.parse(res.body.created_at)).toBe(24 * 3600 * 1000);
    expect(await works(stack, key.secret)).toBe(true);
  });

  it('refuses a bad grace period with 400 naming the field, and changes nothing', async () => {
    const { ws, key, admin } = await setup();
    for (const grace of [-1, 604801, 1.5, '60', null]) {
      const res = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: grace });
      expect(res.status, `grace ${String(grace)}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_input', field: 'grace_period_seconds' });
      expect(res.body.error.message).toContain('grace_period_seconds');
    }
    const [row] = await stack.orm.em
      .fork()
      .execute<{ rotation_count: number }[]>(`select rotation_count from api_key where workspace_id = ? and id = ?`, [ws.workspaceId, key.keyId]);
    expect(row?.rotation_count).toBe(0);
    expect(await events(stack, ws.workspaceId)).toHaveLength(0);
    expect((await secretRow(stack, key.secret))?.expires_at).toBeNull();
  });

  it('rotating again during a grace period ends the earlier grace at once', async () => {
    const { ws, key, admin } = await setup();
    const first = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 3600 });
    expect(first.status).toBe(201);
    const second = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 3600 });
    expect(second.status).toBe(201);

    expect(await works(stack, key.secret)).toBe(false);
    expect(await works(stack, first.body.api_key)).toBe(true);
    expect(await works(stack, second.body.api_key)).toBe(true);

    // The first rotation's workflow finishes on its own: original secret revoked, key.revoked raised.
    const firstState = await stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1)).result();
    expect(firstState.phase).toBe('completed');
    expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
    expect((await secretRow(stack, first.body.api_key))?.revoked_at).toBeNull();
    const revoked = await events(stack, ws.workspaceId, 'key.revoked');
    expect(revoked.map((e) => e.payload['rotation'])).toEqual([1]);

    const state = await admin.get(`/api-keys/${key.keyId}/rotation`);
    expect(state.body).toMatchObject({ rotation: 2, phase: 'grace' });
  });

  it('a key revoked during the grace period: the rotation ends quietly, with no second key.revoked', async () => {
    const { ws, key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 3600 });
    expect((await admin.post(`/api-keys/${key.keyId}/revoke`)).status).toBe(200);
    expect(await works(stack, key.secret)).toBe(false);
    expect(await works(stack, rotated.body.api_key)).toBe(false);
    const ended = await admin.post(`/api-keys/${key.keyId}/rotation/end-grace`);
    expect(ended.status).toBe(200);
    expect(ended.body.phase).toBe('completed');
    const revoked = await events(stack, ws.workspaceId, 'key.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.payload['reason']).not.toBe('rotation');
    // A revoked key is not rotated again.
    const again = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    expect(again.status).toBe(409);
  });

  it('answers 404 for a key of another workspace, and for an unknown key', async () => {
    const { key } = await setup();
    const other = await stack.workspace(['admin']);
    const as = (m: string, p: string, body?: unknown) => stack.rest(m, p, { key: other.secret, body });
    for (const [m, p, body] of [
      ['POST', `/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 10 }],
      ['GET', `/api-keys/${key.keyId}/rotation`, undefined],
      ['POST', `/api-keys/${key.keyId}/rotation/end-grace`, {}],
      ['POST', `/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 10 }],
      ['POST', `/api-keys/nope/rotate`, {}],
    ] as const) {
      const res = await as(m, p, body);
      expect(res.status, `${m} ${p}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(await works(stack, key.secret)).toBe(true);
    expect((await secretRow(stack, key.secret))?.expires_at).toBeNull();
  });

  it('needs keys:write to rotate and keys:read to read the state', async () => {
    const { ws, key } = await setup();
    const readOnly = await addKey(stack, ws.workspaceId, { permissions: ['read-only'] });
    const res = await stack.rest('POST', `/api-keys/${key.keyId}/rotate`, { key: readOnly.secret, body: {} });
    expect(res.status).toBe(403);
    expect((await stack.rest('POST', `/api-keys/${key.keyId}/rotate`, { key: null, body: {} })).status).toBe(401);
    const state = await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: readOnly.secret });
    expect(state.status).toBe(404);
    expect(state.body.error.message).toContain('never been rotated');
  });
});

describe('who may rotate, and the trail it leaves', () => {
  it('a key rotates itself or keys no stronger than itself; never an admin key from a write key', async () => {
    const { ws, key } = await setup();
    const writer = await addKey(stack, ws.workspaceId, { permissions: ['write'] });
    const admin = await addKey(stack, ws.workspaceId, { permissions: ['admin'] });
    const asWriter = (path: string, body: unknown = {}) => stack.rest('POST', path, { key: writer.secret, body });

    const denied = await asWriter(`/api-keys/${admin.keyId}/rotate`, { grace_period_seconds: 60 });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('insufficient_permissions');
    expect(JSON.stringify(denied.body)).not.toMatch(/gate_sk_/);
    expect((await secretRow(stack, admin.secret))?.expires_at).toBeNull();

    expect((await asWriter(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 60 })).status).toBe(201);
    expect((await asWriter(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 60 })).status).toBe(200);
    // Its own key: the caller keeps working through the grace period with the old secret.
    const self = await asWriter(`/api-keys/${writer.keyId}/rotate`, { grace_period_seconds: 60 });
    expect(self.status).toBe(201);
    expect((await asWriter(`/api-keys/${writer.keyId}/rotation/end-grace`)).status).toBe(200);
    expect(await works(stack, writer.secret)).toBe(false);
    expect(await works(stack, self.body.api_key)).toBe(true);
  });

  it('records who rotated, ended and extended in the audit log, without the secret', async () => {
    const { ws, key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 600 });
    await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 60 });
    await admin.post(`/api-keys/${key.keyId}/rotation/end-grace`);
    const rows = await stack.orm.em
      .fork()
      .execute<{ action: string; actor_key_id: string; target_id: string; changes: Record<string, unknown> }[]>(
        `select action, actor_key_id, target_id, changes from audit_log where workspace_id = ? and target_id = ? order by created_at`,
        [ws.workspaceId, key.keyId],
      );
    expect(rows.map((r) => r.action)).toEqual(['key.rotated', 'key.rotation.grace_extended', 'key.rotation.grace_ended']);
    expect(rows.every((r) => r.actor_key_id === ws.keyId)).toBe(true);
    expect(rows[0]!.changes).toMatchObject({ rotation_count: { from: 0, to: 1 }, grace_period_seconds: 600 });
    const text = JSON.stringify(rows);
    expect(text).not.toContain(rotated.body.api_key);
    expect(text).not.toContain(hashOf(stack, rotated.body.api_key));
  });

  it('refuses an unknown field by name, and lists the routes in /openapi.json', async () => {
    const { key, admin } = await setup();
    const res = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period: 60 });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('grace_period');
    expect(await works(stack, key.secret)).toBe(true);
    const doc = (await stack.rest('GET', '/openapi.json', { key: null })).body;
    for (const path of ['/api-keys/{id}/rotate', '/api-keys/{id}/rotation', '/api-keys/{id}/rotation/end-grace', '/api-keys/{id}/rotation/extend-grace']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});

describe('rotation state, end-grace and extend-grace', () => {
  it('reports the grace period, ends it on request, and the old secret is revoked before the answer', async () => {
    const { ws, key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 3600 });
    const state = await admin.get(`/api-keys/${key.keyId}/rotation`);
    expect(state.status).toBe(200);
    expect(state.body).toEqual({
      key_id: key.keyId,
      rotation: 1,
      phase: 'grace',
      rotated_at: rotated.body.created_at,
      grace_ends_at: rotated.body.previous_key_expires_at,
      completed_at: null,
    });

    // The old key is in use (and so in any API process's cache) right up to the end.
    expect((await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: key.secret })).status).toBe(200);
    const ended = await admin.post(`/api-keys/${key.keyId}/rotation/end-grace`);
    expect(ended.status).toBe(200);
    expect((await stack.rest('GET', `/api-keys/${key.keyId}/rotation`, { key: key.secret })).status).toBe(401);
    expect(ended.body).toMatchObject({ phase: 'completed', rotation: 1 });
    expect(ended.body.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(await works(stack, key.secret)).toBe(false);
    expect((await secretRow(stack, key.secret))?.revoked_at?.getTime(), 'revoked, and not in the future').toBeLessThanOrEqual(Date.now());
    expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);

    // Again: nothing left to end, same answer.
    const again = await admin.post(`/api-keys/${key.keyId}/rotation/end-grace`);
    expect(again.status).toBe(200);
    expect(again.body.phase).toBe('completed');
    const after = await admin.get(`/api-keys/${key.keyId}/rotation`);
    expect(after.body).toMatchObject({ phase: 'completed', completed_at: ended.body.completed_at });
    expect(await events(stack, ws.workspaceId, 'key.revoked')).toHaveLength(1);
  });

  it('extends the grace period: the old secret keeps working past the first end', async () => {
    const { key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 2 });
    const firstEnd = Date.parse(rotated.body.previous_key_expires_at);
    const extended = await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 60 });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.grace_ends_at)).toBe(firstEnd + 60_000);
    expect(extended.body.phase).toBe('grace');
    expect(new Date((await secretRow(stack, key.secret))!.expires_at!).getTime()).toBe(firstEnd + 60_000);

    await new Promise((r) => setTimeout(r, Math.max(0, firstEnd + 800 - Date.now())));
    expect(await works(stack, key.secret)).toBe(true);
    expect((await admin.get(`/api-keys/${key.keyId}/rotation`)).body.phase).toBe('grace');
  });

  it('refuses an extension past 7 days after the rotation, or a bad one, with 400 naming seconds', async () => {
    const { key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 6 * 24 * 3600 });
    const before = (await secretRow(stack, key.secret))!.expires_at;

    const tooFar = await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 24 * 3600 + 1 });
    expect(tooFar.status).toBe(400);
    expect(tooFar.body.error).toMatchObject({ code: 'invalid_input', field: 'seconds' });
    expect(tooFar.body.error.message).toContain('7 days');
    for (const seconds of [0, -5, 604801, 'x']) {
      const bad = await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds });
      expect(bad.status, String(seconds)).toBe(400);
      expect(bad.body.error.field).toBe('seconds');
    }
    expect((await secretRow(stack, key.secret))!.expires_at).toEqual(before);

    // Exactly up to the cap is fine.
    const ok = await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 24 * 3600 });
    expect(ok.status).toBe(200);
    expect(Date.parse(ok.body.grace_ends_at)).toBe(Date.parse(rotated.body.created_at) + 7 * 24 * 3600 * 1000);
  });

  it('refuses to extend a grace period that has ended (409)', async () => {
    const { key, admin } = await setup();
    await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    await waitFor('rotation to complete', async () => (await admin.get(`/api-keys/${key.keyId}/rotation`)).body.phase === 'completed');
    const res = await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 60 });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    expect(await works(stack, key.secret)).toBe(false);
  });
});

describe('the rotation workflow', () => {
  it('holds ids and durations only: neither secret nor any hash is in its history', async () => {
    const { ws, key, admin } = await setup();
    const rotated = await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 3600 });
    await admin.get(`/api-keys/${key.keyId}/rotation`);
    await admin.post(`/api-keys/${key.keyId}/rotation/extend-grace`, { seconds: 60 });
    await admin.post(`/api-keys/${key.keyId}/rotation/end-grace`);

    const handle = stack.temporal.client.workflow.getHandle(rotationWorkflowId(ws.workspaceId, key.pk, 1));
    const text = await historyText(handle);
    // The search works: ids are there.
    expect(text).toContain(key.keyId);
    expect(text).toContain(ws.workspaceId);
    for (const secret of [key.secret, rotated.body.api_key as string]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(13, 35));
      expect(text).not.toContain(hashOf(stack, secret));
    }
  });

  it('is named rotation:<workspace>:<key pk>:<n> and carries the workspace and key id search attributes', async () => {
    const { ws, key, admin } = await setup();
    await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    await admin.post(`/api-keys/${key.keyId}/rotate`, { grace_period_seconds: 0 });
    const handle = stack.temporal.client.workflow.getHandle(`rotation:${ws.workspaceId}:${key.pk}:2`);
    const described = await handle.describe();
    expect(described.type).toBe('keyRotationWorkflow');
    expect(described.searchAttributes['GatehouseWorkspace']).toEqual([ws.workspaceId]);
    expect(described.searchAttributes['GatehouseKeyId']).toEqual([key.keyId]);
  });
});

describe('tRPC keys.rotate / rotationState / endGraceNow / extendGrace', () => {
  it('does the same through the typed client', async () => {
    const { ws, key } = await setup();
    const caller = await stack.caller(ws.secret);
    const r = await caller.keys.rotate({ id: key.keyId, gracePeriodSeconds: 600 });
    expect(r).toMatchObject({ id: key.keyId, rotation: 1, gracePeriodSeconds: 600, workflowId: rotationWorkflowId(ws.workspaceId, key.pk, 1) });
    expect(await works(stack, r.apiKey)).toBe(true);
    expect(await caller.keys.rotationState({ id: key.keyId })).toMatchObject({ phase: 'grace', rotation: 1, graceEndsAt: r.previousKeyExpiresAt });
    const ext = await caller.keys.extendGrace({ id: key.keyId, seconds: 30 });
    expect(Date.parse(ext.graceEndsAt)).toBe(Date.parse(r.previousKeyExpiresAt) + 30_000);
    expect((await caller.keys.endGraceNow({ id: key.keyId })).phase).toBe('completed');
    expect(await works(stack, key.secret)).toBe(false);

    await expect(caller.keys.rotate({ id: key.keyId, gracePeriodSeconds: -1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const readOnly = await stack.caller(r.apiKey);
    await expect(readOnly.keys.rotate({ id: key.keyId })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const stranger = await stack.caller((await stack.workspace(['admin'])).secret);
    await expect(stranger.keys.rotationState({ id: key.keyId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
