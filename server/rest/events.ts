import { z } from 'zod';
import { listEventDeliveries } from '../../core/webhooks/deliveries.js';
import { getEvent, listEvents, publishEvent } from '../../core/webhooks/events.js';
import { eventId, eventPayload, eventTypeName, idempotencyKey, isoDate, listLimit } from '../../core/webhooks/schema.js';
import { snakeJson } from './case.js';
import { defineRoute } from './route.js';
import { DeliveryBody, EventBody, deliveryBody, eventBody } from './webhook-views.js';

export const publishEventRoute = defineRoute({
  method: 'post',
  path: '/events',
  summary: 'Publish an event to every subscribed active endpoint; idempotent on Idempotency-Key for 24 hours',
  tags: ['events'],
  scope: 'events:publish',
  status: 202,
  errors: [413],
  headers: z.object({ 'idempotency-key': idempotencyKey.optional().meta({ description: 'Same key within 24 h: the same answer, nothing new sent.' }) }),
  body: z.strictObject({ type: eventTypeName, payload: eventPayload }),
  response: z.object({
    id: z.string(),
    type: z.string(),
    created_at: z.string().meta({ format: 'date-time' }),
    deliveries: z.number().int().meta({ description: 'Endpoints subscribed and active when the event was stored.' }),
  }),
  handler: async ({ ctx, body, headers }) => {
    const key = headers['idempotency-key'];
    const event = await publishEvent(ctx, ctx.principal.workspaceId, { type: body.type, payload: body.payload, idempotencyKey: key });
    return snakeJson({ id: event.id, type: event.type, createdAt: event.createdAt, deliveries: event.deliveries });
  },
});

export const listEventsRoute = defineRoute({
  method: 'get',
  path: '/events',
  summary: 'Events of your workspace, newest first (payloads via GET /events/{id})',
  tags: ['events'],
  scope: 'events:read',
  query: z.strictObject({
    type: eventTypeName.optional(),
    since: isoDate.optional(),
    until: isoDate.optional(),
    limit: listLimit.optional(),
    cursor: z.string().max(400).optional().meta({ description: '`next_cursor` of the previous page.' }),
  }),
  response: z.object({ events: z.array(EventBody), next_cursor: z.string().nullable() }),
  handler: async ({ ctx, query }) => {
    const page = await listEvents(ctx.em, ctx.principal.workspaceId, { ...query, limit: query.limit ?? 20 });
    return { events: page.events.map(eventBody), next_cursor: page.nextCursor };
  },
});

export const getEventRoute = defineRoute({
  method: 'get',
  path: '/events/{id}',
  summary: 'An event with its payload',
  tags: ['events'],
  scope: 'events:read',
  params: z.strictObject({ id: eventId }),
  response: EventBody,
  handler: async ({ ctx, params }) => eventBody(await getEvent(ctx.em, ctx.principal.workspaceId, params.id)),
});

export const eventDeliveriesRoute = defineRoute({
  method: 'get',
  path: '/events/{id}/deliveries',
  summary: "An event's deliveries, one per endpoint, with every attempt",
  tags: ['events'],
  scope: 'events:read',
  params: z.strictObject({ id: eventId }),
  response: z.object({ deliveries: z.array(DeliveryBody) }),
  handler: async ({ ctx, params }) => ({
    deliveries: (await listEventDeliveries(ctx.em, ctx.principal.workspaceId, params.id)).map(deliveryBody),
  }),
});

export const eventRoutes = [publishEventRoute, listEventsRoute, getEventRoute, eventDeliveriesRoute];
