import { z } from 'zod';
import { listEventDeliveries } from '../../core/webhooks/deliveries.js';
import { getEvent, listEvents, publishEvent } from '../../core/webhooks/events.js';
import { eventId, eventPayload, eventTypeName, idempotencyKey, isoDate, listLimit } from '../../core/webhooks/schema.js';
import { router, scopedProcedure } from '../trpc.js';

export const eventsRouter = router({
  /** Fans out to every subscribed active endpoint; same `idempotencyKey` within 24 h returns the first event. */
  publish: scopedProcedure('events:publish')
    .input(z.strictObject({ type: eventTypeName, payload: eventPayload, idempotencyKey: idempotencyKey.optional() }))
    .mutation(({ ctx, input }) => publishEvent(ctx, ctx.principal.workspaceId, input)),

  list: scopedProcedure('events:read')
    .input(
      z
        .strictObject({
          type: eventTypeName.optional(),
          since: isoDate.optional(),
          until: isoDate.optional(),
          limit: listLimit.optional(),
          cursor: z.string().max(400).optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => listEvents(ctx.em, ctx.principal.workspaceId, { ...input, limit: input?.limit ?? 20 })),

  get: scopedProcedure('events:read')
    .input(z.strictObject({ id: eventId }))
    .query(({ ctx, input }) => getEvent(ctx.em, ctx.principal.workspaceId, input.id)),

  deliveries: scopedProcedure('events:read')
    .input(z.strictObject({ id: eventId }))
    .query(({ ctx, input }) => listEventDeliveries(ctx.em, ctx.principal.workspaceId, input.id)),
});
