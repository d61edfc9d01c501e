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
import { snakeKeys } from './case.js';
import { defineRoute } from './route.js';
import { DeliveryBody, EndpointBody, EndpointWithHealthBody, RecoveryBody, deliveryBody, endpointBody, endpointWithHealthBody, recoveryBody } from './webhook-views.js';

const secret = z.string().meta({ description: 'The signing secret, shown this once: store it now.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
const params = z.strictObject({ id: endpointId });

export const createWebhookRoute = defineRoute({
  method: 'post',
  path: '/webhooks',
  summary: 'Create a webhook endpoint; its signing secret is returned once',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  status: 201,
  errors: [409],
  body: z.strictObject({
    url: endpointUrl,
    event_types: subscribedTypes.optional(),
    description: endpointDescription.optional(),
    https_only: z.boolean().optional().meta({ description: 'Refuse http:// URLs for this endpoint.' }),
    all_workspaces: z
      .boolean()
      .optional()
      .meta({ description: "Operators only: receive every workspace's operator events (workspace.created, limits.request.*, usage.quota.*, usage.monthly_report, webhook.endpoint.disabled); event_types limited to those." }),
  }),
  response: EndpointBody.extend({ secret }),
  handler: async ({ ctx, body }) => {
    const { endpoint, secret } = await createEndpoint(ctx, ctx.principal.workspaceId, {
      url: body.url,
      eventTypes: body.event_types,
      description: body.description,
      httpsOnly: body.https_only,
      allWorkspaces: body.all_workspaces,
    }, ctx.principal.scopes);
    return { ...endpointBody(endpoint), secret };
  },
});

export const listWebhooksRoute = defineRoute({
  method: 'get',
  path: '/webhooks',
  summary: 'List webhook endpoints with their health over the last 24 hours, failing ones first',
  tags: ['webhooks'],
  scope: 'webhooks:read',
  response: z.object({ webhooks: z.array(EndpointWithHealthBody) }),
  handler: async ({ ctx }) => ({ webhooks: (await listEndpoints(ctx, ctx.principal.workspaceId)).map(endpointWithHealthBody) }),
});

export const getWebhookRoute = defineRoute({
  method: 'get',
  path: '/webhooks/{id}',
  summary: 'Get a webhook endpoint',
  tags: ['webhooks'],
  scope: 'webhooks:read',
  params,
  response: EndpointWithHealthBody,
  handler: async ({ ctx, params }) => endpointWithHealthBody(await getEndpoint(ctx, ctx.principal.workspaceId, params.id)),
});

export const updateWebhookRoute = defineRoute({
  method: 'patch',
  path: '/webhooks/{id}',
  summary: 'Change a webhook endpoint; `status` pauses or resumes it (resuming also re-enables a disabled one)',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  params,
  body: z.strictObject({
    url: endpointUrl.optional(),
    event_types: subscribedTypes.optional(),
    description: endpointDescription.optional(),
    https_only: z.boolean().optional(),
    status: z.enum(['active', 'paused']).optional().meta({ description: 'paused: nothing is sent until active again; events published meanwhile are held (deliveries in status `paused`). PATCH to active sends them; POST /webhooks/{id}/resume chooses.' }),
  }),
  response: EndpointBody,
  handler: async ({ ctx, params, body }) =>
    endpointBody(
      await updateEndpoint(ctx, ctx.principal.workspaceId, params.id, {
        url: body.url,
        eventTypes: body.event_types,
        description: body.description,
        httpsOnly: body.https_only,
        status: body.status,
      }, ctx.principal.scopes),
    ),
});

export const resumeWebhookRoute = defineRoute({
  method: 'post',
  path: '/webhooks/{id}/resume',
  summary: 'Resume a paused endpoint (or re-enable a disabled one) and send, or skip, the deliveries held while it was paused',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  params,
  body: z.strictObject({
    deliver_held: z
      .boolean()
      .default(true)
      .meta({ description: 'true (default): the deliveries held while paused are sent now; false: they become `skipped` (a recovery can still send them).' }),
  }),
  response: EndpointBody.extend({ held_delivered: z.number().int(), held_skipped: z.number().int() }),
  handler: async ({ ctx, params, body }) => {
    const r = await resumeEndpoint(ctx, ctx.principal.workspaceId, params.id, { deliverHeld: body.deliver_held }, ctx.principal.scopes);
    return { ...endpointBody(r.endpoint), held_delivered: r.delivered, held_skipped: r.skipped };
  },
});

export const deleteWebhookRoute = defineRoute({
  method: 'delete',
  path: '/webhooks/{id}',
  summary: 'Delete a webhook endpoint with its delivery history',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  params,
  response: z.object({ message: z.string() }),
  handler: async ({ ctx, params }) => {
    await deleteEndpoint(ctx, ctx.principal.workspaceId, params.id, ctx.principal.scopes);
    return { message: `Webhook endpoint '${params.id}' deleted` };
  },
});

export const rotateWebhookSecretRoute = defineRoute({
  method: 'post',
  path: '/webhooks/{id}/rotate-secret',
  summary: 'Issue a new signing secret (shown once); the previous one keeps signing beside it for 24 hours',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  params,
  response: EndpointBody.extend({ secret }),
  handler: async ({ ctx, params }) => {
    const { endpoint, secret } = await rotateEndpointSecret(ctx, ctx.principal.workspaceId, params.id, ctx.principal.scopes);
    return { ...endpointBody(endpoint), secret };
  },
});

export const testWebhookRoute = defineRoute({
  method: 'post',
  path: '/webhooks/{id}/test',
  summary: 'Send a `webhook.test` event to this endpoint only',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  status: 202,
  errors: [409],
  params,
  response: z.object({ event_id: z.string(), delivery_id: z.string(), workflow_id: z.string() }),
  handler: async ({ ctx, params }) => {
    const sent = await sendTestEvent(ctx, ctx.principal.workspaceId, params.id);
    return snakeKeys({ eventId: sent.event.id, deliveryId: sent.deliveryId, workflowId: sent.workflowId });
  },
});

export const webhookDeliveriesRoute = defineRoute({
  method: 'get',
  path: '/webhooks/{id}/deliveries',
  summary: "An endpoint's deliveries with their attempts, newest first",
  tags: ['webhooks'],
  scope: 'webhooks:read',
  params,
  query: z.strictObject({
    status: deliveryStatus.optional(),
    limit: listLimit.optional(),
    cursor: z.string().max(400).optional().meta({ description: '`next_cursor` of the previous page.' }),
  }),
  response: z.object({ deliveries: z.array(DeliveryBody), next_cursor: z.string().nullable() }),
  handler: async ({ ctx, params, query }) => {
    const page = await listEndpointDeliveries(ctx.em, ctx.principal.workspaceId, params.id, {
      status: query.status,
      cursor: query.cursor,
      limit: query.limit ?? 20,
    });
    return { deliveries: page.deliveries.map(deliveryBody), next_cursor: page.nextCursor };
  },
});

export const recoverWebhookRoute = defineRoute({
  method: 'post',
  path: '/webhooks/{id}/recover',
  summary: 'Replay every failed or skipped delivery created since a date, and retry now those waiting out a backoff, in a `recover:<endpointId>:<n>` workflow',
  tags: ['webhooks'],
  scope: 'webhooks:write',
  status: 202,
  errors: [409],
  params,
  body: z.strictObject({ since: isoDate }),
  response: RecoveryBody,
  handler: async ({ ctx, params, body }) => recoveryBody(await startRecovery(ctx, ctx.principal.workspaceId, params.id, body.since)),
});

export const getRecoveryRoute = defineRoute({
  method: 'get',
  path: '/webhooks/{id}/recover/{recovery_id}',
  summary: 'Progress of a recovery',
  tags: ['webhooks'],
  scope: 'webhooks:read',
  params: z.strictObject({ id: endpointId, recovery_id: z.coerce.number().int().min(1).max(1_000_000_000) }),
  response: RecoveryBody,
  handler: async ({ ctx, params }) => recoveryBody(await getRecovery(ctx, ctx.principal.workspaceId, params.id, params.recovery_id)),
});

export const webhookRoutes = [
  createWebhookRoute,
  listWebhooksRoute,
  getWebhookRoute,
  updateWebhookRoute,
  resumeWebhookRoute,
  deleteWebhookRoute,
  rotateWebhookSecretRoute,
  testWebhookRoute,
  webhookDeliveriesRoute,
  recoverWebhookRoute,
  getRecoveryRoute,
];
