import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../temporal/client.js';
import { HttpError } from './errors.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import { ensureOutboxSweeper, startFanout } from './webhooks/dispatch.js';

/** Largest event payload accepted, measured as the JSON stored and sent. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A caller's Idempotency-Key answers with the first event for this long; afterwards it may be reused. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

export interface RaiseEventInput {
  workspaceId: string;
  /** A built-in type such as `key.rotated`, or a custom type registered by the workspace. */
  type: string;
  payload: Record<string, unknown>;
  /**
   * Same key, same workspace: the first event is returned and nothing new is stored. Keys of
   * events published through the API (`source: 'api'`) hold for 24 hours; Gatehouse's own keys
   * (`key.rotated:<key>:<n>`) hold for good.
   */
  idempotencyKey?: string;
  source?: 'api' | 'gatehouse';
  /** Deliver to this endpoint only, whatever it subscribes to (test events). */
  onlyEndpointId?: string;
}

export interface RaisedEvent {
  id: string;
  type: string;
  createdAt: Date;
  /** False when an earlier event with the same idempotency key was returned instead. */
  created: boolean;
  /** Deliveries the event makes: the endpoints subscribed and active when it was stored. */
  deliveries: number;
}

export interface EventDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  /** Where a failed fan-out start is reported (the outbox sweeper still delivers the event). */
  log?: Logger;
}

/**
 * The one way an event enters Gatehouse, from the API and from activities alike. The event and
 * one delivery row per subscribed active endpoint are stored together (the outbox), then the
 * `fanout:<eventId>` workflow is started to deliver them. If that start fails, the stored rows
 * stay undispatched and the outbox sweeper Schedule starts the fan-out a minute later: an event
 * that was accepted is never lost.
 *
 * May be called inside the caller's transaction: the fan-out retries until the rows commit.
 */
export async function raiseEvent(deps: EventDeps, input: RaiseEventInput): Promise<RaisedEvent> {
  const payload = JSON.stringify(input.payload);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new HttpError(413, 'payload_too_large', `payload: ${Buffer.byteLength(payload)} bytes, over the ${MAX_PAYLOAD_BYTES / 1024} KB an event may carry`, 'payload');
  }
  const source = input.source ?? 'gatehouse';
  const event = await deps.em.transactional(async (tx) => {
    if (input.idempotencyKey && source === 'api') {
      // An expired key is released (the old event keeps existing, without it) so the insert below can take it.
      await tx.execute(
        `update event set idempotency_key = null
          where workspace_id = ? and idempotency_key = ? and source = 'api' and created_at < now() - (? * interval '1 hour')`,
        [input.workspaceId, input.idempotencyKey, IDEMPOTENCY_WINDOW_HOURS],
      );
    }
    const rows = await tx.execute<{ id: string; type: string; created_at: Date; inserted: boolean }[]>(
      `insert into event (id, workspace_id, type, payload, idempotency_key, source, created_at)
       values (?, ?, ?, ?, ?, ?, now())
       on conflict (workspace_id, idempotency_key) do update set idempotency_key = excluded.idempotency_key
       returning id, type, created_at, (xmax = 0) as inserted`,
      [newId('msg', 12), input.workspaceId, input.type, payload, input.idempotencyKey ?? null, source],
    );
    const row = rows[0]!;
    let deliveries: number;
    if (row.inserted) {
      const created = await tx.execute<{ id: string }[]>(
        `insert into webhook_delivery (id, workspace_id, event_id, endpoint_id, status, workflow_id, attempt_count, created_at, updated_at)
         select 'dlv_' || replace(gen_random_uuid()::text, '-', ''), ep.workspace_id, ?, ep.id, 'pending',
                'delivery:' || ? || ':' || ep.id, 0, now(), now()
           from webhook_endpoint ep
          where ep.workspace_id = ? and ep.status = 'active'
            and (case when ?::text is null
                      then ep.event_types is null or ep.event_types @> jsonb_build_array(?::text)
                      else ep.id = ?::text end)
         returning id`,
        [row.id, row.id, input.workspaceId, input.onlyEndpointId ?? null, input.type, input.onlyEndpointId ?? null],
      );
      deliveries = created.length;
      // Nothing to deliver: no workflow is needed, and the sweeper must not pick the event up.
      if (deliveries === 0) await tx.execute(`update event set dispatched_at = now() where id = ?`, [row.id]);
    } else {
      const counted = await tx.execute<{ n: string }[]>(`select count(*) as n from webhook_delivery where event_id = ?`, [row.id]);
      deliveries = Number(counted[0]?.n ?? 0);
    }
    return { id: row.id, type: row.type, createdAt: new Date(row.created_at), created: row.inserted, deliveries };
  });

  if (event.created && event.deliveries > 0) {
    void ensureOutboxSweeper(deps.temporal, deps.log);
    try {
      await startFanout(deps.temporal, { id: event.id, workspaceId: input.workspaceId, type: event.type });
    } catch (err) {
      // Best effort by design: the event is stored, and the outbox sweeper will fan it out.
      deps.log?.warn({ err, eventId: event.id }, 'fan-out not started; the outbox sweeper will deliver this event');
    }
  }
  return event;
}
