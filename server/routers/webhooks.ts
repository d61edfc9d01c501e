import { z } from 'zod';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
} from '../../core/webhooks/endpoints.js';
import { listEndpointDeliveries } from '../../core/webhooks/deliveries.js';
import { resumeEndpoint } from '../../core/webhooks/resume.js';
import { getRecovery, startRecovery } from '../../core/webhooks/recovery.js';
import { sendTestEvent } from '../../core/webhooks/test-event.js';
import {
  deliveryStatus,
  endpointDescription,
  endpointId,
  endpointUrl,
  isoDate,
  listLimit,
  subscribedTypes,
} from '../../core/webhooks/schema.js';
import { router, scopedProcedure } from '../trpc.js';

const byId = z.strictObject({ id: endpointId });

/** Webhook endpoints of the caller's workspace; secrets appear only in `create` and `rotateSecret` answers. */
export const webhooksRouter = router({
  list: scopedProcedure('webhooks:read').query(({ ctx }) => listEndpoints(ctx, ctx.principal.workspaceId)),

  get: scopedProcedure('webhooks:read')
    .input(byId)
    .query(({ ctx, input }) => getEndpoint(ctx, ctx.principal.workspaceId, input.id)),

  create: scopedProcedure('webhooks:write')
    .input(
      z.strictObject({
        url: endpointUrl,
        eventTypes: subscribedTypes.optional(),
        description: endpointDescription.optional(),
        httpsOnly: z.boolean().optional(),
        /** Operators only: every workspace's operator events. */
        allWorkspaces: z.boolean().optional(),
      }),
    )
    .mutation(({ ctx, input }) => createEndpoint(ctx, ctx.principal.workspaceId, input, ctx.principal.scopes)),

  /** `status: 'paused'` pauses, `'active'` resumes (and re-enables a disabled endpoint). */
  update: scopedProcedure('webhooks:write')
    .input(
      byId.extend({
        patch: z.strictObject({
          url: endpointUrl.optional(),
          eventTypes: subscribedTypes.optional(),
          description: endpointDescription.optional(),
          httpsOnly: z.boolean().optional(),
          status: z.enum(['active', 'paused']).optional(),
        }),
      }),
    )
    .mutation(({ ctx, input }) => updateEndpoint(ctx, ctx.principal.workspaceId, input.id, input.patch, ctx.principal.scopes)),

  /** Resumes (or re-enables) the endpoint; the deliveries held while paused are sent (`deliverHeld`, default) or skipped. */
  resume: scopedProcedure('webhooks:write')
    .input(byId.extend({ deliverHeld: z.boolean().default(true) }))
    .mutation(({ ctx, input }) => resumeEndpoint(ctx, ctx.principal.workspaceId, input.id, { deliverHeld: input.deliverHeld }, ctx.principal.scopes)),

  delete: scopedProcedure('webhooks:write')
    .input(byId)
    .mutation(async ({ ctx, input }) => {
      await deleteEndpoint(ctx, ctx.principal.workspaceId, input.id, ctx.principal.scopes);
      return { id: input.id, deleted: true };
    }),

  rotateSecret: scopedProcedure('webhooks:write')
    .input(byId)
    .mutation(({ ctx, input }) => rotateEndpointSecret(ctx, ctx.principal.workspaceId, input.id, ctx.principal.scopes)),

  sendTest: scopedProcedure('webhooks:write')
    .input(byId)
    .mutation(async ({ ctx, input }) => {
      const sent = await sendTestEvent(ctx, ctx.principal.workspaceId, input.id);
      return { eventId: sent.event.id, deliveryId: sent.deliveryId, workflowId: sent.workflowId };
    }),

  deliveries: scopedProcedure('webhooks:read')
    .input(byId.extend({ status: deliveryStatus.optional(), limit: listLimit.optional(), cursor: z.string().max(400).optional() }))
    .query(({ ctx, input }) =>
      listEndpointDeliveries(ctx.em, ctx.principal.workspaceId, input.id, { status: input.status, cursor: input.cursor, limit: input.limit ?? 20 }),
    ),

  recover: scopedProcedure('webhooks:write')
    .input(byId.extend({ since: isoDate }))
    .mutation(({ ctx, input }) => startRecovery(ctx, ctx.principal.workspaceId, input.id, input.since)),

  recovery: scopedProcedure('webhooks:read')
    .input(byId.extend({ recoveryId: z.number().int().min(1) }))
    .query(({ ctx, input }) => getRecovery(ctx, ctx.principal.workspaceId, input.id, input.recoveryId)),
});
