import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Event } from './event.js';
import { WebhookEndpoint } from './webhook-endpoint.js';
import { Workspace } from './workspace.js';

/** pending → succeeded | failed | skipped (endpoint paused, disabled or gone before the attempt); paused: held while its endpoint was paused, until Resume starts or skips it. */
export type DeliveryStatus = 'pending' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'paused';

/** One event to one endpoint; a Temporal workflow `delivery:<eventId>:<endpointId>` drives it. */
export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_delivery',
  uniques: [{ properties: ['event', 'endpoint'] }],
  indexes: [{ properties: ['endpoint', 'createdAt'] }, { properties: ['workspace', 'createdAt'] }],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    event: () => p.manyToOne(Event).deleteRule('cascade'),
    endpoint: () => p.manyToOne(WebhookEndpoint).deleteRule('cascade'),
    status: p.string().length(16).default('pending'),
    workflowId: p.string().length(200),
    attemptCount: p.integer().default(0),
    nextAttemptAt: p.datetime().nullable(),
    lastAttemptAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type IWebhookDelivery = InferEntity<typeof WebhookDelivery>;
