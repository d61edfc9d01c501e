import { z } from 'zod';
import { getDelivery, replayDelivery } from '../../core/webhooks/deliveries.js';
import { deliveryId } from '../../core/webhooks/schema.js';
import { router, scopedProcedure } from '../trpc.js';

const byId = z.strictObject({ id: deliveryId });

export const deliveriesRouter = router({
  get: scopedProcedure('webhooks:read')
    .input(byId)
    .query(({ ctx, input }) => getDelivery(ctx.em, ctx.principal.workspaceId, input.id)),

  replay: scopedProcedure('webhooks:write')
    .input(byId)
    .mutation(({ ctx, input }) => replayDelivery(ctx, ctx.principal.workspaceId, input.id)),
});
