import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { SA } from '../../temporal/search-attributes.js';
// Update/query definitions are plain `{ name }` objects: importing them keeps client and workflow
// agreeing on names, the same way the server names workflows it starts.
import {
  endGraceNowUpdate,
  endGraceSignal,
  extendGraceUpdate,
  keyRotationWorkflow,
  MAX_GRACE_SECONDS,
  rotationStateQuery,
  type RotationInput,
  type RotationState,
} from '../../workflows/rotation.js';
import { HttpError, conflict, notFound, truncate } from '../errors.js';
import { recordAudit } from '../audit.js';
import { raiseEvent } from '../events.js';
import { ungrantable } from '../permissions.js';
import type { KeyActor } from './service.js';
import { generateSecret, hashSecret, maskSecret, type KeyEnvironment } from './secret.js';
import { notifyKeyChanged } from './notify.js';

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

interface KeyRow {
  pk: string;
  id: string;
  permissions: string[];
  environment: string;
  rotation_count: number;
  last_rotated_at: Date | null;
  revoked_at: Date | null;
  key_prefix: string;
}

/**
 * The workflow of rotation `n` of a key. Named by the key's primary key, not its id: an id can be
 * deleted and taken again, and the new key's rotation 1 must not be mistaken for the old key's
 * (whose finished workflow would answer for it while the new key's old secret stayed valid).
 */
export function rotationWorkflowId(workspaceId: string, keyPk: string, rotation: number): string {
  return `rotation:${workspaceId}:${keyPk}:${rotation}`;
}

/**
 * What rotations started before ids named the primary key are called. Only looked up, never
 * started: the name may belong to an earlier key that had the same id (see `startedForKey`).
 */
function legacyRotationWorkflowId(workspaceId: string, keyId: string, rotation: number): string {
  return `rotation:${workspaceId}:${keyId}:${rotation}`;
}

/** Every look-up is scoped by workspace: a key of another workspace is simply not found. */
async function findKey(em: EntityManager, workspaceId: string, keyId: string, forUpdate = false): Promise<KeyRow> {
  const rows = await em.execute<KeyRow[]>(
    `select k.pk, k.id, k.permissions, k.environment, k.rotation_count, k.last_rotated_at, k.revoked_at, w.key_prefix
       from api_key k join workspace w on w.id = k.workspace_id
      where k.workspace_id = ? and k.id = ?${forUpdate ? ' for update of k' : ''}`,
    [workspaceId, keyId],
  );
  const row = rows[0];
  if (!row) throw notFound('API key', keyId);
  return row;
}

/**
 * The same rule as the key service's: a key acts on itself or on keys whose permissions it could
 * have granted. Rotation hands out a working secret, so a `write` key must not rotate the admin's.
 */
function assertMayManage(actor: KeyActor, key: KeyRow, verb: string): void {
  if (key.pk === actor.keyPk) return;
  const above = ungrantable(actor.scopes, key.permissions);
  if (above) {
    throw new HttpError(
      403,
      'insufficient_permissions',
      `This API key cannot ${verb} key '${truncate(key.id)}': that key holds '${above}', which this key does not`,
    );
  }
}

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
    const [{ now } = { now: new Date() }] = await tx.execute<{ now: Date }[]>(`select now() as now`);
    const rotatedAt = new Date(now);
    const graceEndsAt = new Date(rotatedAt.getTime() + grace * 1000);
    const secret = generateSecret(key.key_prefix, key.environment as KeyEnvironment);
    const start = maskSecret(secret);

    const cut = await tx.execute<{ rotation: number }[]>(
      `update api_key_secret set expires_at = ?
        where api_key_pk = ? and revoked_at is null and expires_at is not null and expires_at > ?
        returning rotation`,
      [rotatedAt, key.pk, rotatedAt],
    );
    await tx.execute(`update api_key_secret set expires_at = ? where api_key_pk = ? and revoked_at is null and expires_at is null`, [
      graceEndsAt,
      key.pk,
    ]);
    await tx.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at, rotation) values (?, ?, ?, ?, ?)`, [
      hashSecret(secret, pepper),
      key.pk,
      start,
      rotatedAt,
      rotation,
    ]);
    await tx.execute(`update api_key set rotation_count = ?, last_rotated_at = ?, start = ?, updated_at = ? where pk = ?`, [
      rotation,
      rotatedAt,
      start,
      rotatedAt,
      key.pk,
    ]);
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

/**
 * Idempotent: the id names the rotation, a running one is reused and a finished one is never run
 * again. "Already started" counts as success only because the id holds the key's primary key:
 * whatever runs under it is this key's rotation n, never one of an earlier key with the same id.
 * Retried briefly; if Temporal stays away, the rotation still holds (expiry is in the row) and the
 * next state/end/extend call or the reminders sweep picks it up.
 */
export async function startRotationWorkflow(deps: Pick<RotationDeps, 'temporal' | 'log'>, input: RotationInput): Promise<boolean> {
  const workflowId = rotationWorkflowId(input.workspaceId, input.keyPk, input.rotation);
  const budgetEnds = Date.now() + 5_000;
  let last: unknown;
  for (const pause of [0, 250, 1_000]) {
    if (pause) await new Promise((r) => setTimeout(r, pause));
    if (Date.now() >= budgetEnds) break;
    try {
      await deps.temporal.connection.withDeadline(budgetEnds, () =>
        deps.temporal.client.workflow.start(keyRotationWorkflow, {
          taskQueue: deps.temporal.taskQueue,
          workflowId,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: [
            { key: SA.workspace, value: input.workspaceId },
            { key: SA.keyId, value: input.keyId },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
      last = err;
    }
  }
  deps.log.warn({ err: last, workflowId }, 'rotation workflow not started; the retired secret still expires on time');
  return false;
}

async function signalEndGrace(deps: Pick<RotationDeps, 'temporal' | 'log'>, workflowId: string): Promise<void> {
  try {
    await deps.temporal.connection.withDeadline(Date.now() + 3_000, () =>
      deps.temporal.client.workflow.getHandle(workflowId).signal(endGraceSignal),
    );
  } catch (err) {
    // Finished already, or Temporal is away: the rows already ended that grace.
    if (!(err instanceof WorkflowNotFoundError)) deps.log.warn({ err, workflowId }, 'could not tell the rotation workflow its grace ended');
  }
}

/** Rebuilds the workflow input of a key's latest rotation from the database alone. */
async function rotationInputFromDb(em: EntityManager, workspaceId: string, key: KeyRow): Promise<RotationInput> {
  const [row] = await em.execute<{ grace_ends_at: Date | null }[]>(
    `select max(expires_at) as grace_ends_at from api_key_secret where api_key_pk = ? and rotation = ?`,
    [key.pk, key.rotation_count - 1],
  );
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

type Found =
  | { workflowId: string; status: 'running' | 'completed' | 'closed' }
  | { workflowId?: undefined; status: 'missing' | 'unreachable' };

interface Target {
  key: KeyRow;
  workflowId: string;
  /** `unreachable`: Temporal did not answer; the database still knows the rotation. */
  status: 'running' | 'completed' | 'closed' | 'unreachable';
}

/** How long a call waits on Temporal before answering from the database instead. */
const TEMPORAL_WAIT_MS = 5_000;

/**
 * Rotation `n`'s workflow of this key: under its primary-key name, or else under the key-id name
 * used before, provided that one was started for this key and not for an earlier key with the id.
 */
async function findRotationWorkflow(
  deps: Pick<RotationDeps, 'temporal' | 'log'>,
  workspaceId: string,
  key: Pick<KeyRow, 'pk' | 'id'>,
  rotation: number,
): Promise<Found> {
  const describe = async (workflowId: string) => {
    try {
      return await deps.temporal.client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  const statusOf = (name: string) => (name === 'RUNNING' ? 'running' : name === 'COMPLETED' ? 'completed' : 'closed');
  const current = rotationWorkflowId(workspaceId, key.pk, rotation);
  const legacy = legacyRotationWorkflowId(workspaceId, key.id, rotation);
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, async (): Promise<Found> => {
      const described = await describe(current);
      if (described) return { workflowId: current, status: statusOf(described.status.name) };
      const old = legacy === current ? undefined : await describe(legacy);
      if (old && (await startedForKey(deps, legacy, old.runId)) === key.pk) return { workflowId: legacy, status: statusOf(old.status.name) };
      return { status: 'missing' };
    });
  } catch (err) {
    deps.log.warn({ err, workflowId: current }, 'rotation workflow not reachable; answering from the database');
    return { status: 'unreachable' };
  }
}

/** The key primary key a rotation workflow was started with: the first event of its history holds its input. */
async function startedForKey(deps: Pick<RotationDeps, 'temporal'>, workflowId: string, runId: string): Promise<string | undefined> {
  const page = await deps.temporal.client.workflowService.getWorkflowExecutionHistory({
    namespace: deps.temporal.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  let payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const converter = deps.temporal.client.workflow.options.loadedDataConverter;
  for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  const input = payloads[0] ? converter.payloadConverter.fromPayload<Partial<RotationInput> | null>(payloads[0]) : undefined;
  return typeof input?.keyPk === 'string' ? input.keyPk : undefined;
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
  const [row] = await deps.em.execute<{ pending: string; revoked_at: Date | null }[]>(
    `select count(*) filter (where revoked_at is null and expires_at > now()) as pending,
            max(revoked_at) filter (where rotation = ?) as revoked_at
       from api_key_secret where api_key_pk = ? and rotation < ?`,
    [key.rotation_count - 1, key.pk, key.rotation_count],
  );
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
  const handle = deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(target.workflowId);
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
      target.status === 'completed' ? handle.result() : handle.query(rotationStateQuery),
    );
  } catch (err) {
    // No worker answers queries right now; the rows say the same thing, less the workflow's view.
    deps.log.warn({ err, workflowId: target.workflowId }, 'rotation state not answered; answering from the database');
    return undefined;
  }
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
  let fromWorkflow: RotationState | undefined;
  if (target.status === 'running') {
    try {
      fromWorkflow = await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
        deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(target.workflowId).executeUpdate(endGraceNowUpdate),
      );
    } catch (err) {
      deps.log.warn({ err, workflowId: target.workflowId }, 'end-grace update not answered; the workflow is signalled instead');
    }
  }
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
  const [live] = await deps.em.execute<{ n: string }[]>(
    `select count(*) as n from api_key_secret where api_key_pk = ? and rotation = ? and revoked_at is null and expires_at > now()`,
    [key.pk, key.rotation_count - 1],
  );
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
  let state: RotationState;
  try {
    state = await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
      deps.temporal.client.workflow.getHandle(target.workflowId).executeUpdate(extendGraceUpdate, { args: [input.seconds] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new HttpError(
        503,
        'temporal_unavailable',
        'The rotation workflow did not confirm the extension in time (no worker running?); read the rotation state before retrying',
      );
    }
    const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (failure instanceof ApplicationFailure) {
      if (failure.type === 'GraceEnded') throw conflict(failure.message);
      if (failure.type === 'GraceTooLong' || failure.type === 'InvalidGraceExtension') {
        throw new HttpError(400, 'invalid_input', failure.message, 'seconds');
      }
    }
    throw err;
  }
  await recordAudit(deps.em, input.actor, {
    workspaceId,
    action: 'key.rotation.grace_extended',
    targetType: 'api_key',
    targetId: target.key.id,
    changes: { rotation: state.rotation, grace_ends_at: { from: new Date(Date.parse(state.graceEndsAt) - input.seconds * 1000).toISOString(), to: state.graceEndsAt }, seconds: input.seconds },
  });
  return state;
}

// ---- What the rotation workflow's activities do (also used by the reminders sweep) ----

export interface RetiredSecretsInput {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  rotation: number;
}

/**
 * Revokes every secret of the key issued before `rotation`, tells every API process, and raises
 * `key.revoked` once per rotation (idempotent: retries and the sweep never raise it twice).
 */
export async function revokeRetiredSecrets(
  deps: { em: EntityManager; temporal: TemporalHandle; log?: Logger },
  input: RetiredSecretsInput,
): Promise<{ revoked: number; revokedAt: string }> {
  return deps.em.transactional(async (tx) => {
    const [{ now } = { now: new Date() }] = await tx.execute<{ now: Date }[]>(`select now() as now`);
    const revokedAt = new Date(now);
    const rows = await tx.execute<{ rotation: number }[]>(
      `update api_key_secret s set revoked_at = ?, expires_at = least(coalesce(s.expires_at, ?), ?)
         from api_key k
        where k.pk = s.api_key_pk and k.pk = ? and k.workspace_id = ? and s.rotation < ? and s.revoked_at is null
        returning s.rotation`,
      [revokedAt, revokedAt, revokedAt, input.keyPk, input.workspaceId, input.rotation],
    );
    if (rows.length === 0) {
      // Done already (by the workflow, the sweep, or an end-grace from the API, each of which raised
      // the event in its own transaction), or the key is gone: report when it actually happened.
      const [prior] = await tx.execute<{ at: Date | null }[]>(
        `select max(revoked_at) as at from api_key_secret where api_key_pk = ? and rotation < ?`,
        [input.keyPk, input.rotation],
      );
      return { revoked: 0, revokedAt: new Date(prior?.at ?? revokedAt).toISOString() };
    }
    await notifyKeyChanged(tx, input.keyPk);
    await raiseEvent(
      { em: tx, temporal: deps.temporal, log: deps.log },
      {
        workspaceId: input.workspaceId,
        type: 'key.revoked',
        idempotencyKey: `key.revoked:${input.keyPk}:rotation:${input.rotation}`,
        payload: { key_id: input.keyId, reason: 'rotation', rotation: input.rotation, revoked_at: revokedAt.toISOString() },
      },
    );
    return { revoked: rows.length, revokedAt: revokedAt.toISOString() };
  });
}

/** Moves the retired secret's expiry, unless a newer rotation has happened since (it ended this grace). */
export async function setRetiredSecretsExpiry(
  em: EntityManager,
  input: RetiredSecretsInput & { expiresAt: string },
): Promise<{ updated: number }> {
  return em.transactional(async (tx) => {
    const rows = await tx.execute<{ hit: number }[]>(
      `update api_key_secret s set expires_at = ?
         from api_key k
        where k.pk = s.api_key_pk and k.pk = ? and k.workspace_id = ? and k.rotation_count = ?
          and s.rotation = ? and s.revoked_at is null
        returning 1 as hit`,
      [new Date(input.expiresAt), input.keyPk, input.workspaceId, input.rotation, input.rotation - 1],
    );
    if (rows.length > 0) await notifyKeyChanged(tx, input.keyPk);
    return { updated: rows.length };
  });
}

/**
 * Revokes retired secrets whose grace ended over a minute ago without their workflow doing it
 * (it could not be started, or was terminated). Their expiry already stopped them; this finishes
 * the bookkeeping: revoked_at, the cache notification, `key.revoked`.
 */
export async function sweepExpiredRetiredSecrets(
  deps: { em: EntityManager; temporal: TemporalHandle; log?: Logger },
  opts: { limit?: number; onProgress?: () => void } = {},
): Promise<{ revoked: number }> {
  const rows = await deps.em.execute<{ api_key_pk: string; workspace_id: string; id: string; rotation: number }[]>(
    `select distinct s.api_key_pk, k.workspace_id, k.id, s.rotation
       from api_key_secret s join api_key k on k.pk = s.api_key_pk
      where s.revoked_at is null and s.expires_at is not null and s.expires_at < now() - interval '1 minute'
      order by s.api_key_pk, s.rotation
      limit ?`,
    [opts.limit ?? 500],
  );
  let revoked = 0;
  for (const row of rows) {
    const result = await revokeRetiredSecrets(deps, {
      workspaceId: row.workspace_id,
      keyPk: row.api_key_pk,
      keyId: row.id,
      rotation: Number(row.rotation) + 1,
    });
    revoked += result.revoked;
    opts.onProgress?.();
  }
  return { revoked };
}
