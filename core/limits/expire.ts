import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { TemporalHandle } from '../../temporal/client.js';
import { typedDb } from '../../db/kysely.js';
import type { Logger } from '../log.js';
import { workspaceScope } from '../scope.js';
import { finish } from './decide.js';

/**
 * Pending requests whose `expires_at` has passed become `expired`, each in its own transaction with
 * its audit entry and `limits.request.decided` (status `expired`), in batches so a long backlog never
 * holds one long transaction. Idempotent: an expired request is no longer pending.
 */
export async function expireLimitRequests(
  deps: { em: () => EntityManager; temporal: TemporalHandle; log?: Logger },
  opts: { now?: Date; batchSize?: number; onBatch?: (done: number) => void } = {},
): Promise<{ expired: number }> {
  const batch = opts.batchSize ?? 100;
  const now = opts.now ?? new Date();
  let expired = 0;
  for (;;) {
    // Every workspace's due requests: the sweep has no caller's workspace.
    const due = await typedDb(deps.em())
      .selectFrom('limit_request')
      .select(['id', 'workspace_id'])
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(batch)
      .execute();
    for (const { id, workspace_id } of due) {
      const done = await deps.em().transactional(async (tx) => {
        const row = await workspaceScope(tx, workspace_id)
          .updateTable('limit_request')
          .set({ status: 'expired', decided_at: sql<Date>`clock_timestamp()` })
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .returningAll()
          .executeTakeFirst();
        if (row) await finish(deps, tx, null, row);
        return row !== undefined;
      });
      if (done) expired++;
    }
    opts.onBatch?.(expired);
    if (due.length < batch) break;
  }
  return { expired };
}
