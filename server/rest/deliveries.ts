import { z } from 'zod';
import { getDelivery, replayDelivery } from '../../core/webhooks/deliveries.js';
import { deliveryId } from '../../core/webhooks/schema.js';
import { defineRoute } from './route.js';
import { DeliveryBody, deliveryBody } from './webhook-views.js';

const params = z.strictObject({ id: deliveryId });

export const getDeliveryRoute = defineRoute({
  method: 'get',
  path: '/deliveries/{id}',
  summary: 'A delivery with its attempts',
  tags: ['webhooks'],
  scope: 'webhooks:read',
  params,
  response: DeliveryBody,
  handler: async ({ ctx, params }) => deliveryBody(await getDelivery(ctx.em, ctx.principal.workspaceId, params.id)),
});

export const replayDeliveryRoute = defineRoute({
  method: 'post',
  path: '/deliveries/{id}/replay',
  summary: 'Send a finished delivery again (a new run of its workflow, first attempt `manual`), or make one waiting out a backoff retry now',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  status: 202,
  errors: [409],
  params,
  response: DeliveryBody,
  handler: async ({ ctx, params }) => deliveryBody(await replayDelivery(ctx, ctx.principal.workspaceId, params.id)),
});

export const deliveryRoutes = [getDeliveryRoute, replayDeliveryRoute];
