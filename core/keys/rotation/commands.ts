// The rotation commands the API offers (rotate, state, end grace now, extend grace). The rows
// decide; the workflow (reached through ./temporal.ts) keeps time and is told what the rows say.
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../../db/kysely.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { TemporalHandle } from '../../../temporal/client.js';
import { rotationWorkflowId } from '../../../temporal/workflow-ids.js';
import { MAX_GRACE_SECONDS, type RotationInput, type RotationState } from '../../../workflows/rotation.js';
import { HttpError, conflict, notFound } from '../../errors.js';
import { recordAudit } from '../../audit.js';
import { raiseEvent } from '../../events.js';
import { workspaceScope } from '../../scope.js';
import { assertMayManage } from '../may-manage.js';
import type { KeyActor } from '../service.js';
import { generateSecret, hashSecret, maskSecret, type KeyEnvironment } from '../secret.js';
import { notifyKeyChanged } from '../notify.js';
import { revokeRetiredSecrets } from './retired-secrets.js';
import {
  findRotationWorkflow,
  queryRotationState,
  signalEndGrace,
  startRotationWorkflow,
  updateEndGraceNow,
  updateExtendGrace,
} from './temporal.js';

export { MAX_GRACE_SECONDS };
export type { RotationState };
export const DEFAULT_GRACE_SECONDS = 24 * 60 * 60;

export interface RotationDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  log: Logger;
  config: Pick<Config, 'GATEHOUSE_KEY_PEPPER'>;
}

export interface RotateInput {
  /** Who rotates; the key rotated is looked up in the actor's workspace only. */
  actor: KeyActor;
  keyId: string;
  /** 0 ends the old secret at once; default 24 h; at most 7 days. */
  gracePeriodSeconds?: number;
}

export interface RotateResult {
  keyId: string;
  /** The new secret: returned to the caller exactly once, stored only as a hash. */
  secret: string;
  start: string;
  rotation: number;
  createdAt: Date;
  previousKeyExpiresAt: Date;
  gracePeriodSeconds: number;
  workflowId: string;
  /** False when Temporal could not be reached; the old secret still stops at previousKeyExpiresAt. */
  workflowStarted: boolean;
}

const now = sql<Date>`now()`;

/** Every look-up is scoped by workspace: a key of another workspace is simply not found. */
async function findKey(em: EntityManager, workspaceId: string, keyId: string, forUpdate = false) {
  let q = workspaceScope(em, workspaceId)
    .selectFrom('api_key')
    .innerJoin('workspace', 'workspace.id', 'api_key.workspace_id')
    .select(['api_key.pk', 'api_key.id', 'api_key.permissions', 'api_key.environment', 'api_key.rotation_count', 'api_key.last_rotated_at', 'api_key.revoked_at', 'workspace.key_prefix'])
    .where('api_key.id', '=', keyId);
  if (forUpdate) q = q.forUpdate('api_key');
  return q.executeTakeFirstOrThrow(() => notFound('API key', keyId));
}

/** The key as rotation sees it: the columns of its row (and its workspace's key prefix) that findKey reads. */
type KeyRow = Awaited<ReturnType<typeof findKey>>;

function checkGrace(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_GRACE_SECONDS) {
    throw new HttpError(
      400,
      'invalid_input',
      `grace_period_seconds: expected a whole number from 0 to ${MAX_GRACE_SECONDS} (7 days)`,
      'grace_period_seconds',
    );
  }
}

/**
 * Issues a new secret and retires the current one after a grace period. The database is the
 * authority: the retired secret's `expires_at` stops it even if the workflow never runs; the
 * workflow then revokes it, tells every API process and raises `key.revoked`.
 *
 * A rotation while an earlier one is still in grace ends that earlier grace at once, so a key
 * never has more than two working secrets (the usual reason to rotate twice is a leak).
 */
export async function rotateKey(deps: RotationDeps, input: RotateInput): Promise<RotateResult> {
  const grace = input.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  checkGrace(grace);
  const pepper = deps.config.GATEHOUSE_KEY_PEPPER;
  const workspaceId = input.actor.workspaceId;

  const done = await deps.em.transactional(async (tx) => {
    const key = await findKey(tx, workspaceId, input.keyId, true);
    assertMayManage(input.actor, key, 'rotate');
    if (key.revoked_at) throw conflict(`API key '${key.id}' is revoked and cannot be rotated`, 'id');
    const rotation = key.rotation_count + 1;
    const db = typedDb(tx);
    const { at } = await db.selectNoFrom((eb) => eb.fn<Date>('now').as('at')).executeTakeFirstOrThrow();
    const rotatedAt = new Date(at);
    const graceEndsAt = new Date(rotatedAt.getTime() + grace * 1000);
    const secret = generateSecret(key.key_prefix, key.environment as KeyEnvironment);
    const start = maskSecret(secret);

    // Secrets are reached through their key, just found (and locked) in this workspace.
    const cut = await db
      .updateTable('api_key_secret')
      .set({ expires_at: rotatedAt })
      .where('api_key_pk', '=', key.pk)
      .where('revoked_at', 'is', null)
      .where('expires_at', 'is not', null)
      .where('expires_at', '>', rotatedAt)
      .returning('rotation')
      .execute();
    await db
      .updateTable('api_key_secret')
      .set({ expires_at: graceEndsAt })
      .where('api_key_pk', '=', key.pk)
      .where('revoked_at', 'is', null)
      .where('expires_at', 'is', null)
      .execute();
    await db
      .insertInto('api_key_secret')
      .values({ hash: hashSecret(secret, pepper), api_key_pk: key.pk, start, created_at: rotatedAt, rotation })
      .execute();
    await workspaceScope(tx, workspaceId)
      .updateTable('api_key')
      .set({ rotation_count: rotation, last_rotated_at: rotatedAt, start, updated_at: rotatedAt })
      .where('pk', '=', key.pk)
      .execute();
    await notifyKeyChanged(tx, key.pk);
    await recordAudit(tx, input.actor, {
      workspaceId,
      action: 'key.rotated',
      targetType: 'api_key',
      targetId: key.id,
      changes: {
        rotation_count: { from: key.rotation_count, to: rotation },
        start: { from: null, to: start },
        previous_key_expires_at: { from: null, to: graceEndsAt.toISOString() },
        grace_period_seconds: grace,
      },
    });
    await raiseEvent(
      { em: tx, temporal: deps.temporal, log: deps.log },
      {
        workspaceId,
        type: 'key.rotated',
        idempotencyKey: `key.rotated:${key.pk}:${rotation}`,
        payload: {
          key_id: key.id,
          rotation,
          rotated_at: rotatedAt.toISOString(),
          previous_key_expires_at: graceEndsAt.toISOString(),
          grace_period_seconds: grace,
        },
      },
    );
    // Rotations whose grace this one cut short (the secret they retired was issued by rotation r-1).
    const superseded = [...new Set(cut.map((r) => Number(r.rotation) + 1))].filter((r) => r >= 1 && r < rotation);
    return { key, rotation, rotatedAt, graceEndsAt, secret, start, superseded };
  });

  const wf: RotationInput = {
    workspaceId,
    keyPk: done.key.pk,
    keyId: done.key.id,
    rotation: done.rotation,
    rotatedAt: done.rotatedAt.toISOString(),
    graceEndsAt: done.graceEndsAt.toISOString(),
  };
  for (const r of done.superseded) {
    const found = await findRotationWorkflow(deps, workspaceId, done.key, r);
    if (found.status === 'running') await signalEndGrace(deps, found.workflowId);
  }
  const workflowStarted = await startRotationWorkflow(deps, wf);
  return {
    keyId: done.key.id,
    secret: done.secret,
    start: done.start,
    rotation: done.rotation,
    createdAt: done.rotatedAt,
    previousKeyExpiresAt: done.graceEndsAt,
    gracePeriodSeconds: grace,
    workflowId: rotationWorkflowId(workspaceId, done.key.pk, done.rotation),
    workflowStarted,
  };
}

/** Rebuilds the workflow input of a key's latest rotation from the database alone. */
async function rotationInputFromDb(em: EntityManager, workspaceId: string, key: KeyRow): Promise<RotationInput> {
  const row = await typedDb(em)
    .selectFrom('api_key_secret')
    .select((eb) => eb.fn.max('expires_at').as('grace_ends_at'))
    .where('api_key_pk', '=', key.pk)
    .where('rotation', '=', key.rotation_count - 1)
    .executeTakeFirst();
  const rotatedAt = new Date(key.last_rotated_at!);
  const graceEndsAt = row?.grace_ends_at ? new Date(row.grace_ends_at) : rotatedAt;
  return {
    workspaceId,
    keyPk: key.pk,
    keyId: key.id,
    rotation: key.rotation_count,
    rotatedAt: rotatedAt.toISOString(),
    graceEndsAt: graceEndsAt.toISOString(),
  };
}

interface Target {
  key: KeyRow;
  workflowId: string;
  /** `unreachable`: Temporal did not answer; the database still knows the rotation. */
  status: 'running' | 'completed' | 'closed' | 'unreachable';
}

/** The key's latest rotation, its workflow started if an earlier attempt never got through. */
async function latestRotation(deps: RotationDeps, workspaceId: string, key: KeyRow): Promise<Target> {
  const found = await findRotationWorkflow(deps, workspaceId, key, key.rotation_count);
  if (found.workflowId !== undefined) return { key, workflowId: found.workflowId, status: found.status };
  const workflowId = rotationWorkflowId(workspaceId, key.pk, key.rotation_count);
  if (found.status === 'unreachable') return { key, workflowId, status: 'unreachable' };
  const input = await rotationInputFromDb(deps.em, workspaceId, key);
  return { key, workflowId, status: (await startRotationWorkflow(deps, input)) ? 'running' : 'unreachable' };
}

async function rotatedKey(em: EntityManager, workspaceId: string, keyId: string): Promise<KeyRow> {
  const key = await findKey(em, workspaceId, keyId);
  if (key.rotation_count === 0) throw new HttpError(404, 'not_found', `API key '${key.id}' has never been rotated`);
  return key;
}

/** What the database says: for a rotation whose workflow was terminated, or while Temporal does not answer. */
async function stateFromDb(deps: RotationDeps, workspaceId: string, key: KeyRow): Promise<RotationState> {
  const input = await rotationInputFromDb(deps.em, workspaceId, key);
  // completed_at is when this rotation's retired secret (issued by the one before) was revoked,
  // not when an older rotation's was.
  const row = await typedDb(deps.em)
    .selectFrom('api_key_secret')
    .select((eb) => [
      eb.fn
        .countAll<string>()
        .filterWhere((f) => f.and([f('revoked_at', 'is', null), f('expires_at', '>', now)]))
        .as('pending'),
      eb.fn.max('revoked_at').filterWhere('rotation', '=', key.rotation_count - 1).as('revoked_at'),
    ])
    .where('api_key_pk', '=', key.pk)
    .where('rotation', '<', key.rotation_count)
    .executeTakeFirst();
  const ended = Number(row?.pending ?? 0) === 0;
  return {
    phase: ended ? 'completed' : 'grace',
    workspaceId,
    keyId: key.id,
    rotation: key.rotation_count,
    rotatedAt: input.rotatedAt,
    graceEndsAt: input.graceEndsAt,
    completedAt: ended ? new Date(row?.revoked_at ?? input.graceEndsAt).toISOString() : null,
  };
}

/**
 * The rows decide whether the old secret still works; the workflow may not have heard yet (an
 * end-grace whose update went unanswered) or may say otherwise after its history was cut short.
 */
function withDbVerdict(state: RotationState, db: RotationState): RotationState {
  if (db.phase === 'completed') return { ...state, phase: 'completed', completedAt: state.completedAt ?? db.completedAt };
  return { ...state, phase: 'grace', completedAt: null };
}

/** What the key's rotation workflow says, when it answers in time. */
async function workflowState(deps: RotationDeps, target: Target): Promise<RotationState | undefined> {
  if (target.status !== 'running' && target.status !== 'completed') return undefined;
  return queryRotationState(deps, { workflowId: target.workflowId, status: target.status });
}

export async function getRotationState(deps: RotationDeps, input: { workspaceId: string; keyId: string }): Promise<RotationState> {
  const key = await rotatedKey(deps.em, input.workspaceId, input.keyId);
  const target = await latestRotation(deps, input.workspaceId, key);
  const fromWorkflow = await workflowState(deps, target);
  const fromDb = await stateFromDb(deps, input.workspaceId, key);
  return fromWorkflow ? withDbVerdict(fromWorkflow, fromDb) : fromDb;
}

/**
 * Ends the grace period of the key's latest rotation now; answers once the old secret is revoked.
 * Ending a grace period is how a leaked secret is cut off, so the API revokes it in PostgreSQL
 * itself first (and tells every API process), whatever the workflow is doing, has done, or whether
 * it can be reached; then it tells the workflow, which finds nothing left to do (revocation and
 * its event are idempotent).
 */
export async function endGraceNow(deps: RotationDeps, input: { actor: KeyActor; keyId: string }): Promise<RotationState> {
  const workspaceId = input.actor.workspaceId;
  const key = await rotatedKey(deps.em, workspaceId, input.keyId);
  assertMayManage(input.actor, key, 'end the grace period of');
  await revokeRetiredSecrets(deps, { workspaceId, keyPk: key.pk, keyId: key.id, rotation: key.rotation_count });

  const target = await latestRotation(deps, workspaceId, key);
  let fromWorkflow = target.status === 'running' ? await updateEndGraceNow(deps, target.workflowId) : undefined;
  if (!fromWorkflow && target.status !== 'closed' && target.status !== 'completed') await signalEndGrace(deps, target.workflowId);
  if (!fromWorkflow && target.status === 'completed') fromWorkflow = await workflowState(deps, target);
  const fromDb = await stateFromDb(deps, workspaceId, key);
  const state = fromWorkflow ? withDbVerdict(fromWorkflow, fromDb) : fromDb;
  await recordAudit(deps.em, input.actor, {
    workspaceId,
    action: 'key.rotation.grace_ended',
    targetType: 'api_key',
    targetId: key.id,
    changes: { rotation: state.rotation, previous_key_revoked_at: { from: null, to: state.completedAt } },
  });
  return state;
}

/** Moves the end of the latest rotation's grace period `seconds` later (never past 7 days after the rotation). */
export async function extendGrace(
  deps: RotationDeps,
  input: { actor: KeyActor; keyId: string; seconds: number },
): Promise<RotationState> {
  const workspaceId = input.actor.workspaceId;
  if (!Number.isInteger(input.seconds) || input.seconds < 1 || input.seconds > MAX_GRACE_SECONDS) {
    throw new HttpError(400, 'invalid_input', `seconds: expected a whole number from 1 to ${MAX_GRACE_SECONDS}`, 'seconds');
  }
  const key = await rotatedKey(deps.em, workspaceId, input.keyId);
  assertMayManage(input.actor, key, 'extend the grace period of');
  const live = await typedDb(deps.em)
    .selectFrom('api_key_secret')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('api_key_pk', '=', key.pk)
    .where('rotation', '=', key.rotation_count - 1)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(live?.n ?? 0) === 0) {
    // The row is the authority: once the old secret stopped, no extension brings it back.
    throw conflict(`The grace period of rotation ${key.rotation_count} of API key '${key.id}' has already ended`);
  }
  const target = await latestRotation(deps, workspaceId, key);
  if (target.status === 'unreachable') {
    // The workflow holds the grace timer: extending only the row would be undone when it fires.
    throw new HttpError(503, 'temporal_unavailable', 'The rotation workflow cannot be reached right now; try again shortly');
  }
  if (target.status !== 'running') {
    throw conflict(`The grace period of rotation ${target.key.rotation_count} of API key '${target.key.id}' has already ended`);
  }
  const state = await updateExtendGrace(deps, target.workflowId, input.seconds);
  await recordAudit(deps.em, input.actor, {
    workspaceId,
    action: 'key.rotation.grace_extended',
    targetType: 'api_key',
    targetId: target.key.id,
    changes: { rotation: state.rotation, grace_ends_at: { from: new Date(Date.parse(state.graceEndsAt) - input.seconds * 1000).toISOString(), to: state.graceEndsAt }, seconds: input.seconds },
  });
  return state;
}
