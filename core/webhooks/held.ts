import { sql } from 'kysely';
import { workspaceScope } from '../scope.js';
import type { WebhookDeps } from './deps.js';
import { startFanout } from './dispatch.js';

// Deliveries held while their endpoint was paused (status `paused`: recorded so by the outbox in
// core/events.ts and never started, or set by an attempt that found the endpoint paused, which
// ended its workflow), and what Resume does with them.

/** Fan-outs started at once when held deliveries are released. */
const START_CONCURRENCY = 16;

/**
 * Releases the deliveries held while the endpoint was paused, once it is active again: sent now,
 * through the same outbox path as a new event (back to `pending`, their event undispatched, its
 * fan-out started: it gives each pending delivery a run, a new one if its workflow had ended; the
 * sweeper finishes the job if Temporal is unreachable now), or `skipped`
 * (a recovery can still send those). Returns how many were released.
 */
export async function releaseHeld(deps: WebhookDeps, workspaceId: string, endpointId: string, deliver: boolean): Promise<number> {
  const { rows, events } = await deps.em.transactional(async (tx) => {
    const scope = workspaceScope(tx, workspaceId);
    const rows = await scope
      .updateTable('webhook_delivery')
      .set({ status: deliver ? 'pending' : 'skipped', updated_at: sql<Date>`now()` })
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'paused')
      .returning(['id', 'event_id'])
      .execute();
    const eventIds = [...new Set(rows.map((r) => r.event_id))];
    if (!deliver || eventIds.length === 0) return { rows, events: [] };
    // Undispatched again: the outbox sweeper starts these fan-outs if the starts below fail.
    const events = await scope
      .updateTable('event')
      .set({ dispatched_at: null })
      .where('id', 'in', eventIds)
      .returning(['id', 'type'])
      .execute();
    return { rows, events };
  });
  for (let i = 0; i < events.length; i += START_CONCURRENCY) {
    try {
      await Promise.all(events.slice(i, i + START_CONCURRENCY).map((e) => startFanout(deps.temporal, { id: e.id, workspaceId, type: e.type })));
    } catch (err) {
      // Best effort, as when an event is published: the rows are pending and undispatched, so the sweeper delivers them.
      deps.log.warn({ err, endpointId }, 'held deliveries not all started; the outbox sweeper will start them');
      break;
    }
  }
  return rows.length;
}
