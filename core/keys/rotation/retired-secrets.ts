// What the rotation workflow's activities do to the rows (also used by the reminders sweep and by
// end-grace from the API): the database is the authority on whether a retired secret still works.
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../../db/kysely.js';
import type { TemporalHandle } from '../../../temporal/client.js';
import { raiseEvent } from '../../events.js';
import type { Logger } from '../../log.js';
import { workspaceScope } from '../../scope.js';
import { notifyKeyChanged } from '../notify.js';

export interface RetiredSecretsInput {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  rotation: number;
}

export interface RetiredSecretsDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  log?: Logger;
}

/** The key's pk, provided the key is in the workspace: secrets are reached through their key. */
const keyOf = (em: EntityManager, input: Pick<RetiredSecretsInput, 'workspaceId' | 'keyPk'>) =>
  workspaceScope(em, input.workspaceId).selectFrom('api_key').select('pk').where('pk', '=', input.keyPk);

/**
 * Revokes every secret of the key issued before `rotation`, tells every API process, and raises
 * `key.revoked` once per rotation (idempotent: retries and the sweep never raise it twice).
 */
export async function revokeRetiredSecrets(deps: RetiredSecretsDeps, input: RetiredSecretsInput): Promise<{ revoked: number; revokedAt: string }> {
  return deps.em.transactional(async (tx) => {
    const db = typedDb(tx);
    const { now } = await db.selectNoFrom((eb) => eb.fn<Date>('now').as('now')).executeTakeFirstOrThrow();
    const revokedAt = new Date(now);
    const rows = await db
      .updateTable('api_key_secret')
      .set((eb) => ({ revoked_at: revokedAt, expires_at: eb.fn<Date>('least', [eb.fn.coalesce('expires_at', eb.val(revokedAt)), eb.val(revokedAt)]) }))
      .where('api_key_pk', 'in', keyOf(tx, input))
      .where('rotation', '<', input.rotation)
      .where('revoked_at', 'is', null)
      .returning('rotation')
      .execute();
    if (rows.length === 0) {
      // Done already (by the workflow, the sweep, or an end-grace from the API, each of which raised
      // the event in its own transaction), or the key is gone: report when it actually happened.
      const prior = await db
        .selectFrom('api_key_secret')
        .select((eb) => eb.fn.max('revoked_at').as('at'))
        .where('api_key_pk', '=', input.keyPk)
        .where('rotation', '<', input.rotation)
        .executeTakeFirst();
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
    const result = await typedDb(tx)
      .updateTable('api_key_secret')
      .set({ expires_at: new Date(input.expiresAt) })
      .where('api_key_pk', 'in', keyOf(tx, input).where('rotation_count', '=', input.rotation))
      .where('rotation', '=', input.rotation - 1)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const updated = Number(result.numUpdatedRows);
    if (updated > 0) await notifyKeyChanged(tx, input.keyPk);
    return { updated };
  });
}

/**
 * Revokes retired secrets whose grace ended over a minute ago without their workflow doing it
 * (it could not be started, or was terminated). Their expiry already stopped them; this finishes
 * the bookkeeping: revoked_at, the cache notification, `key.revoked`.
 */
export async function sweepExpiredRetiredSecrets(
  deps: RetiredSecretsDeps,
  opts: { limit?: number; onProgress?: () => void } = {},
): Promise<{ revoked: number }> {
  // Every workspace's secrets: each one found is then revoked within its key's own workspace.
  const rows = await typedDb(deps.em)
    .selectFrom('api_key_secret')
    .innerJoin('api_key', 'api_key.pk', 'api_key_secret.api_key_pk')
    .select(['api_key_secret.api_key_pk', 'api_key.workspace_id', 'api_key.id', 'api_key_secret.rotation'])
    .distinct()
    .where('api_key_secret.revoked_at', 'is', null)
    .where('api_key_secret.expires_at', 'is not', null)
    .where('api_key_secret.expires_at', '<', sql<Date>`now() - interval '1 minute'`)
    .orderBy('api_key_secret.api_key_pk')
    .orderBy('api_key_secret.rotation')
    .limit(opts.limit ?? 500)
    .execute();
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
