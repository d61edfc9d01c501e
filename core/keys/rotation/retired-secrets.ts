// What the rotation workflow's activities do to the rows (also used by the reminders sweep and by
// end-grace from the API): the database is the authority on whether a retired secret still works.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../../../temporal/client.js';
import { raiseEvent } from '../../events.js';
import type { Logger } from '../../log.js';
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

/**
 * Revokes every secret of the key issued before `rotation`, tells every API process, and raises
 * `key.revoked` once per rotation (idempotent: retries and the sweep never raise it twice).
 */
export async function revokeRetiredSecrets(deps: RetiredSecretsDeps, input: RetiredSecretsInput): Promise<{ revoked: number; revokedAt: string }> {
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
  deps: RetiredSecretsDeps,
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
