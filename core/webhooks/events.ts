import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { Row } from '../../db/kysely.js';
import { notFound } from '../errors.js';
import { raiseCheckedEvent, type RaisedEvent } from '../events.js';
import { isCatalogEventType } from '../events/catalog.js';
import { assertPayloadMatches } from '../events/payload-schema.js';
import { page } from '../page.js';
import { workspaceScope, type WorkspaceScope } from '../scope.js';
import type { WebhookDeps } from './deps.js';
import { assertNotReservedEventType, customEventTypeSchema } from './event-types.js';

// Events as the API publishes and shows them: POST /events, GET /events, GET /events/{id}.

export interface PublishInput {
  type: string;
  payload: Record<string, unknown>;
  idempotencyKey?: string;
}

/**
 * POST /events: a known type outside Gatehouse's own namespaces only, its payload matching the
 * type's schema (400 naming the JSON path); idempotent on the caller's key for 24 hours.
 */
export async function publishEvent(deps: WebhookDeps, workspaceId: string, input: PublishInput): Promise<RaisedEvent> {
  assertNotReservedEventType(input.type, 'type');
  // A catalog type is every workspace's (start-up writes it) and its schema is in code: no read for it,
  // one round trip fewer on the publish path (bench/webhooks.ts). A custom type's schema is read each time.
  const customSchema = isCatalogEventType(input.type) ? null : await customEventTypeSchema(deps.em, workspaceId, input.type, 'type');
  assertPayloadMatches(input.type, customSchema, input.payload);
  return raiseCheckedEvent(deps, { workspaceId, type: input.type, payload: input.payload, idempotencyKey: input.idempotencyKey, source: 'api' });
}

export interface EventView {
  id: string;
  type: string;
  source: string;
  createdAt: Date;
  dispatchedAt: Date | null;
  deliveries: number;
  payload?: Record<string, unknown>;
}

type EventRow = Pick<Row<'event'>, 'id' | 'type' | 'source' | 'created_at' | 'dispatched_at'> & {
  deliveries: string | number;
  payload?: Record<string, unknown>;
};

const eventView = (r: EventRow): EventView => ({
  id: r.id,
  type: r.type,
  source: r.source,
  createdAt: new Date(r.created_at),
  dispatchedAt: r.dispatched_at ? new Date(r.dispatched_at) : null,
  deliveries: Number(r.deliveries),
  ...(r.payload !== undefined ? { payload: r.payload } : {}),
});

/** An event's columns as every read shows them, with how many deliveries it made. */
function events(scope: WorkspaceScope) {
  return scope
    .selectFrom('event')
    .select(['id', 'type', 'source', 'created_at', 'dispatched_at'])
    .select(() =>
      scope
        .selectFrom('webhook_delivery')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('webhook_delivery.event_id', '=', sql.ref<string>('event.id'))
        .as('deliveries'),
    );
}

export interface ListEventsInput {
  type?: string;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit: number;
}

/** Newest first, paged by an opaque cursor; payloads are left out (GET /events/{id} has it). */
export async function listEvents(em: EntityManager, workspaceId: string, q: ListEventsInput): Promise<{ events: EventView[]; nextCursor: string | null }> {
  let query = events(workspaceScope(em, workspaceId));
  if (q.type) query = query.where('type', '=', q.type);
  if (q.since) query = query.where('created_at', '>=', q.since);
  if (q.until) query = query.where('created_at', '<', q.until);
  const { items, nextCursor } = await page(query, { time: 'created_at', id: 'id' }, { cursor: q.cursor, limit: q.limit });
  return { events: items.map((r) => eventView({ ...r, deliveries: r.deliveries ?? 0 })), nextCursor };
}

export async function getEvent(em: EntityManager, workspaceId: string, id: string): Promise<EventView> {
  const row = await events(workspaceScope(em, workspaceId))
    .select('payload')
    .where('id', '=', id)
    .executeTakeFirstOrThrow(() => notFound('Event', id));
  return eventView({ ...row, deliveries: row.deliveries ?? 0 });
}
