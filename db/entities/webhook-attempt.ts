import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { WebhookDelivery } from './webhook-delivery.js';

/** One HTTP request of a delivery, as the endpoint answered it (status 0: no HTTP answer at all). */
export const WebhookAttempt = defineEntity({
  name: 'WebhookAttempt',
  tableName: 'webhook_attempt',
  indexes: [{ properties: ['delivery', 'attemptedAt'] }],
  properties: {
    id: p.string().primary().length(40),
    delivery: () => p.manyToOne(WebhookDelivery).deleteRule('cascade'),
    attemptNumber: p.integer(),
    /** `scheduled` by the retry schedule, `manual` by a replay, recovery or test. */
    trigger: p.string().length(16),
    statusCode: p.integer(),
    durationMs: p.integer(),
    /** The start of the response body, at most 20 KB. */
    responseExcerpt: p.text().default(''),
    error: p.string().length(1000).nullable(),
    attemptedAt: p.datetime(),
  },
});
export type IWebhookAttempt = InferEntity<typeof WebhookAttempt>;
