import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import { json, typedDb } from '../db/kysely.js';
import type { TemporalHandle } from '../temporal/client.js';
import { HttpError } from './errors.js';
import { newId } from './ids.js';
import { workspaceScope } from './scope.js';
import type { Logger } from './log.js';
import type { Config } from './config.js';
import { startDeliveryWorkflow, startFanout } from './webhooks/dispatch.js';
import type { DispatchMarks } from './webhooks/dispatch-marks.js';
import { deliveryWorkflowIdPrefix } from '../temporal/workflow-ids.js';
import { ATTEMPT_TIMEOUT_MS } from './webhooks/http.js';
import { parseRetrySchedule } from './webhooks/retry.js';
import type { CatalogEventType, EventPayload } from './events/catalog.js';
import { isOperatorEventType } from './webhooks/operator-endpoints.js';

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
  /** Deliver to the workspace's operator-wide endpoints only (an operator's copy of another workspace's event). */
  allWorkspacesOnly?: boolean;
}

export interface RaisedEvent {
  id: string;
  type: string;
  createdAt: Date;
  /** False when an earlier event with the same idempotency key was returned instead. */
  created: boolean;
  /** Deliveries the event makes: the endpoints subscribed and active (or paused: held) when it was stored. */
  deliveries: number;
}

export interface EventDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  /** Where a failed fan-out start is reported (the outbox sweeper still delivers the event). */
  log?: Logger;
  /** Given (the API and activities have it), a small fan-out starts its delivery workflows directly. */
  config?: Pick<Config, 'GATEHOUSE_WEBHOOK_RETRY_SCHEDULE'>;
  /** The API's: events whose workflows started are marked dispatched in batches, not one UPDATE each. */
  dispatched?: DispatchMarks;
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
  if (input.onlyEndpointId === undefined && isOperatorEventType(input.type)) return raiseWithOperatorCopies(deps, input);
  return storeEvent(deps, input);
}

/**
 * A provider-level event (OPERATOR_EVENT_TYPES) is also stored, as a copy with the same payload (which
 * names the customer's workspace), in each operator workspace holding an active operator-wide endpoint
 * subscribed to it, delivered to those endpoints only, in the same transaction as the original. The
 * copy and its deliveries are the operator's own rows, so the delivery workflow, signatures, retries,
 * search attributes, replays, recoveries and every list work unchanged, and no row of the operator's
 * ever sits in a customer's workspace. The copy's idempotency key names the original, once per workspace.
 */
async function raiseWithOperatorCopies(deps: EventDeps, input: CheckedEventInput): Promise<RaisedEvent> {
  // Every operator workspace's endpoints: the one read of the fan-out across workspaces.
  const operators = await typedDb(deps.em)
    .selectFrom('webhook_endpoint')
    .select('workspace_id')
    .distinct()
    .where('all_workspaces', '=', true)
    // A paused endpoint's deliveries are recorded as for any paused endpoint; a disabled one gets no copies.
    .where('status', 'in', ['active', 'paused'])
    .where('workspace_id', '!=', input.workspaceId)
    .where('event_types', '@>', json([input.type]))
    .orderBy('workspace_id')
    .execute();
  if (operators.length === 0) return storeEvent(deps, input);
  return deps.em.transactional(async (tx) => {
    const txDeps = { ...deps, em: tx };
    const event = await storeEvent(txDeps, input);
    // An idempotent repeat made its copies the first time, in that first transaction.
    if (!event.created) return event;
    for (const { workspace_id } of operators) {
      await storeEvent(txDeps, {
        workspaceId: workspace_id,
        type: input.type,
        payload: input.payload,
        idempotencyKey: `operator-copy:${event.id}`,
        source: 'gatehouse',
        allWorkspacesOnly: true,
      });
    }
    return event;
  });
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
  const store = (em: EntityManager) => {
    const scope = workspaceScope(em, input.workspaceId);
    // Delivered to: the one endpoint asked for (test events), else every endpoint subscribed to the type.
    const onlyEndpointId = input.onlyEndpointId;
    const allWorkspacesOnly = input.allWorkspacesOnly === true;
    return typedDb(em)
      .with('ev', () =>
        scope
          .insertInto('event', {
            id: eventId,
            type: input.type,
            payload: sql<Record<string, unknown>>`${payload}::jsonb`,
            idempotency_key: input.idempotencyKey ?? null,
            source,
            created_at: sql<Date>`now()`,
          })
          .onConflict((oc) => oc.columns(['workspace_id', 'idempotency_key']).doUpdateSet((eb) => ({ idempotency_key: eb.ref('excluded.idempotency_key') })))
          .returning(['id', 'type', 'created_at', sql<boolean>`(xmax = 0)`.as('inserted')]),
      )
      .with('dl', (db) =>
        db
          .insertInto('webhook_delivery')
          .columns(['id', 'workspace_id', 'event_id', 'endpoint_id', 'status', 'workflow_id', 'attempt_count', 'created_at', 'updated_at'])
          .expression(
            // The endpoints are this workspace's (the condition the scope would add, written here
            // because the insert reads the event just stored in `ev`), each row taking their workspace_id.
            db
              .selectFrom(['ev', 'webhook_endpoint as ep'])
              .select((eb) => [
                sql<string>`'dlv_' || replace(gen_random_uuid()::text, '-', '')`.as('id'),
                'ep.workspace_id',
                'ev.id as event_id',
                'ep.id as endpoint_id',
                // A paused endpoint's delivery is recorded and held (not started) until its Resume
                // delivers or skips it (core/webhooks/held.ts): pausing loses nothing by surprise.
                sql<string>`case when ${eb.ref('ep.status')} = 'paused' then 'paused' else 'pending' end`.as('status'),
                sql<string>`${deliveryWorkflowIdPrefix(eventId)}::text || ${eb.ref('ep.id')}`.as('workflow_id'),
                sql.lit(0).as('attempt_count'),
                sql<Date>`now()`.as('created_at'),
                sql<Date>`now()`.as('updated_at'),
              ])
              .where('ev.inserted', '=', true)
              .where('ep.workspace_id', '=', input.workspaceId)
              .where('ep.status', 'in', ['active', 'paused'])
              .$if(allWorkspacesOnly, (q) => q.where('ep.all_workspaces', '=', true))
              .where((eb) =>
                onlyEndpointId !== undefined
                  ? eb('ep.id', '=', onlyEndpointId)
                  : eb.or([eb('ep.event_types', 'is', null), eb('ep.event_types', '@>', json([input.type]))]),
              ),
          )
          .returning(['id', 'endpoint_id', 'status']),
      )
      .selectFrom('ev')
      .select((eb) => [
        'ev.id',
        'ev.type',
        'ev.created_at',
        'ev.inserted',
        jsonArrayFrom(eb.selectFrom('dl').select(['dl.id', 'dl.endpoint_id']).where('dl.status', '=', 'pending')).as('created'),
        eb.selectFrom('dl').select((e) => e.fn.countAll<string>().as('n')).where('dl.status', '=', 'paused').as('held'),
      ])
      .executeTakeFirstOrThrow();
  };
  const row =
    input.idempotencyKey && source === 'api'
      ? await deps.em.transactional(async (tx) => {
          // An expired key is released (the old event keeps existing, without it) so the insert can take it.
          await workspaceScope(tx, input.workspaceId)
            .updateTable('event')
            .set({ idempotency_key: null })
            .where('idempotency_key', '=', input.idempotencyKey!)
            .where('source', '=', 'api')
            .where('created_at', '<', sql<Date>`now() - (${IDEMPOTENCY_WINDOW_HOURS} * interval '1 hour')`)
            .execute();
          return store(tx);
        })
      : await store(deps.em);
  const scope = workspaceScope(deps.em, input.workspaceId);
  // `created`: the deliveries to start now; held ones (paused endpoints) count as deliveries but wait for Resume.
  const created = row.inserted ? row.created : [];
  let deliveries = created.length + (row.inserted ? Number(row.held ?? 0) : 0);
  if (row.inserted && created.length === 0) {
    // Nothing to deliver: no workflow is needed, and the sweeper must not pick the event up.
    await scope.updateTable('event').set({ dispatched_at: sql<Date>`now()` }).where('id', '=', row.id).execute();
  } else if (!row.inserted) {
    const counted = await scope
      .selectFrom('webhook_delivery')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('event_id', '=', row.id)
      .executeTakeFirstOrThrow();
    deliveries = Number(counted.n);
  }
  const event: RaisedEvent = { id: row.id, type: row.type, createdAt: new Date(row.created_at), created: row.inserted, deliveries };

  if (event.created && created.length > 0) {
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
        if (deps.dispatched) deps.dispatched.mark(event.id);
        else await scope.updateTable('event').set({ dispatched_at: sql<Date>`now()` }).where('id', '=', event.id).where('dispatched_at', 'is', null).execute();
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
