import { z } from 'zod';
import { createEventType, listEventTypes } from '../../core/webhooks/event-types.js';
import { eventTypeName, payloadJsonSchema } from '../../core/webhooks/schema.js';
import { defineRoute } from './route.js';
import { EventTypeBody, eventTypeBody } from './webhook-views.js';

export const listEventTypesRoute = defineRoute({
  method: 'get',
  path: '/event-types',
  summary: 'Event types: the built-in ones and your custom ones, each with its payload JSON Schema and an example',
  tags: ['events'],
  scope: 'events:read',
  response: z.object({ event_types: z.array(EventTypeBody) }),
  handler: async ({ ctx }) => ({ event_types: (await listEventTypes(ctx.em, ctx.principal.workspaceId)).map(eventTypeBody) }),
});

export const createEventTypeRoute = defineRoute({
  method: 'post',
  path: '/event-types',
  summary: 'Register a custom event type',
  tags: ['events'],
  scope: 'events:publish',
  status: 201,
  errors: [409],
  body: z.strictObject({
    name: eventTypeName,
    description: z.string().max(500, 'at most 500 characters').optional(),
    schema: payloadJsonSchema.optional(),
  }),
  response: EventTypeBody,
  handler: async ({ ctx, body }) => eventTypeBody(await createEventType(ctx.em, ctx.principal.workspaceId, body)),
});

export const eventTypeRoutes = [listEventTypesRoute, createEventTypeRoute];
