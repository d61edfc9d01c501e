import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../temporal/client.js';
import { HttpError } from './errors.js';
import { newId } from './ids.js';
import type { Logger } from './log.js';
import type { Config } from './config.js';
import { startDeliveryWorkflow, startFanout } from './webhooks/dispatch.js';
import { deliveryWorkflowIdPrefix } from '../temporal/workflow-ids.js';
import { ATTEMPT_TIMEOUT_MS } from './webhooks/http.js';
import { parseRetrySchedule } from './webhooks/retry.js';
import type { CatalogEventType, EventPayload } from './events/catalog.js';

/** Largest event payload accepted, measured as the JSON stored and sent. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A caller's Idempotency-Key answers with the first event for this long; afterwards it may be reused. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

export interface RaiseEventInput<T extends CatalogEventType = CatalogEventType> extends EventInputBase {
  /** A type of the catalog (`core/events/catalog.ts`), such as `key.rotated`. */
  type: T;
  payload: EventPayload<T>;
}

/** An event of any type, custom ones included, whose payload was checked at run time. */
export interface CheckedEventInput extends EventInputBase {
  type: string;
  payload: Record<string, unknown>;
}

interface EventInputBase {
  workspaceId: string;
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
  /** Given (the API and activities have it), a small fan-out starts its delivery workflows directly. */
  config?: Pick<Config, 'GATEHOUSE_WEBHOOK_RETRY_SCHEDULE'>;
}

/**
 * Up to this many deliveries, an event raised outside a transaction starts its delivery workflows
 * itself instead of through `fanout:<eventId>`: one workflow and one activity fewer per event,
 * measured in bench/webhooks.ts. Larger fan-outs go through the workflow, which pages and heartbeats.
 */
export const DIRECT_FANOUT_MAX = 8;

/**
 * Raises a catalog event: the type must be one of `core/events/catalog.ts` and the payload of
 * its shape, both checked by the compiler (so nothing is checked again on this path).
 */
export function raiseEvent<T extends CatalogEventType>(deps: EventDeps, input: RaiseEventInput<T>): Promise<RaisedEvent> {
  return storeEvent(deps, input);
}

/**
 * `raiseEvent()` for a type the compiler cannot know (`POST /events`: custom types too), whose
 * payload the caller has checked against the type's schema at run time.
 */
export function raiseCheckedEvent(deps: EventDeps, input: CheckedEventInput): Promise<RaisedEvent> {
  return storeEvent(deps, input);
}

/**
 * The one way an event enters Gatehouse, from the API and from activities alike. The event and
 * one delivery row per subscribed active endpoint are stored together (the outbox), then their
 * `delivery:<eventId>:<endpointId>` workflows are started: directly for a small fan-out raised
 * outside a transaction, else through the `fanout:<eventId>` workflow. If that fails, the stored rows
 * stay undispatched and the outbox sweeper Schedule starts the fan-out a minute later: an event
 * that was accepted is never lost.
 *
 * May be called inside the caller's transaction: the fan-out retries until the rows commit.
 */
async function storeEvent(deps: EventDeps, input: CheckedEventInput): Promise<RaisedEvent> {
  const payload = JSON.stringify(input.payload);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new HttpError(413, 'payload_too_large', `payload: ${Buffer.byteLength(payload)} bytes, over the ${MAX_PAYLOAD_BYTES / 1024} KB an event may carry`, 'payload');
  }
  const source = input.source ?? 'gatehouse';
  // Used only when this insert wins: an idempotent repeat stores no delivery rows.
  const eventId = newId('msg', 12);
  // The event and its deliveries in one statement (atomic on its own): publishing is on the
  // webhook hot path, and a round trip per statement was most of its cost.
  const store = (em: EntityManager) =>
    em.execute<{ id: string; type: string; created_at: Date; inserted: boolean; created: { id: string; endpoint_id: string }[] }[]>(
      `with ev as (
         insert into event (id, workspace_id, type, payload, idempotency_key, source, created_at)
         values (?, ?, ?, ?, ?, ?, now())
         on conflict (workspace_id, idempotency_key) do update set idempotency_key = excluded.idempotency_key
         returning id, type, created_at, (xmax = 0) as inserted
       ), dl as (
         insert into webhook_delivery (id, workspace_id, event_id, endpoint_id, status, workflow_id, attempt_count, created_at, updated_at)
         select 'dlv_' || replace(gen_random_uuid()::text, '-', ''), ep.workspace_id, ev.id, ep.id, 'pending',
                ?::text || ep.id, 0, now(), now()
           from ev, webhook_endpoint ep
          where ev.inserted and ep.workspace_id = ? and ep.status = 'active'
            and (case when ?::text is null
                      then ep.event_types is null or ep.event_types @> jsonb_build_array(?::text)
                      else ep.id = ?::text end)
         returning id, endpoint_id
       )
       select ev.id, ev.type, ev.created_at, ev.inserted,
              coalesce((select json_agg(json_build_object('id', dl.id, 'endpoint_id', dl.endpoint_id)) from dl), '[]'::json) as created
         from ev`,
      [
        eventId, input.workspaceId, input.type, payload, input.idempotencyKey ?? null, source,
        deliveryWorkflowIdPrefix(eventId), input.workspaceId, input.onlyEndpointId ?? null, input.type, input.onlyEndpointId ?? null,
      ],
    );
  const rows =
    input.idempotencyKey && source === 'api'
      ? await deps.em.transactional(async (tx) => {
          // An expired key is released (the old event keeps existing, without it) so the insert can take it.
          await tx.execute(
            `update event set idempotency_key = null
              where workspace_id = ? and idempotency_key = ? and source = 'api' and created_at < now() - (? * interval '1 hour')`,
            [input.workspaceId, input.idempotencyKey, IDEMPOTENCY_WINDOW_HOURS],
          );
          return store(tx);
        })
      : await store(deps.em);
  const row = rows[0]!;
  const created = row.inserted ? row.created : [];
  let deliveries = created.length;
  if (row.inserted && deliveries === 0) {
    // Nothing to deliver: no workflow is needed, and the sweeper must not pick the event up.
    await deps.em.execute(`update event set dispatched_at = now() where id = ?`, [row.id]);
  } else if (!row.inserted) {
    const counted = await deps.em.execute<{ n: string }[]>(`select count(*) as n from webhook_delivery where event_id = ?`, [row.id]);
    deliveries = Number(counted[0]?.n ?? 0);
  }
  const event: RaisedEvent = { id: row.id, type: row.type, createdAt: new Date(row.created_at), created: row.inserted, deliveries };

  if (event.created && event.deliveries > 0) {
    // Only once the rows are committed: inside a caller's transaction the delivery would not see them yet.
    if (deps.config && !deps.em.isInTransaction() && created.length <= DIRECT_FANOUT_MAX) {
      const scheduleMs = parseRetrySchedule(deps.config.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE);
      try {
        await Promise.all(
          created.map((d) =>
            startDeliveryWorkflow(
              deps.temporal,
              { deliveryId: d.id, eventId: event.id, endpointId: d.endpoint_id, workspaceId: input.workspaceId, eventType: event.type },
              { trigger: 'scheduled', scheduleMs, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
            ),
          ),
        );
        await deps.em.execute(`update event set dispatched_at = now() where id = ? and dispatched_at is null`, [event.id]);
        return event;
      } catch (err) {
        // The fan-out workflow (or, failing that, the sweeper) starts whatever did not start here.
        deps.log?.warn({ err, eventId: event.id }, 'delivery workflows not all started directly; handing the event to its fan-out');
      }
    }
    try {
      await startFanout(deps.temporal, { id: event.id, workspaceId: input.workspaceId, type: event.type });
    } catch (err) {
      // Best effort by design: the event is stored, and the outbox sweeper will fan it out.
      deps.log?.warn({ err, eventId: event.id }, 'fan-out not started; the outbox sweeper will deliver this event');
    }
  }
  return event;
}
