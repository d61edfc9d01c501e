import { z } from 'zod';
import { createEventType, listEventTypes } from '../../core/webhooks/event-types.js';
import { eventTypeName, payloadJsonSchema } from '../../core/webhooks/schema.js';
import { router, scopedProcedure } from '../trpc.js';

export const eventTypesRouter = router({
  list: scopedProcedure('events:read').query(({ ctx }) => listEventTypes(ctx.em, ctx.principal.workspaceId)),

  create: scopedProcedure('events:publish')
    .input(z.strictObject({ name: eventTypeName, description: z.string().max(500).optional(), schema: payloadJsonSchema.optional() }))
    .mutation(({ ctx, input }) => createEventType(ctx.em, ctx.principal.workspaceId, input)),
});
