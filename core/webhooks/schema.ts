import { z } from 'zod';
import { EVENT_TYPE_PATTERN, EVENT_TYPE_RULE } from './event-types.js';

/** Shared by REST and tRPC, so both refuse the same input with the same words. */
export const eventTypeName = z
  .string()
  .min(1, 'expected an event type name')
  .max(120, 'at most 120 characters')
  .regex(EVENT_TYPE_PATTERN, EVENT_TYPE_RULE)
  .meta({ example: 'product.generated' });

export const endpointUrl = z.string().min(1, 'expected a URL').max(2048, 'at most 2048 characters').meta({ example: 'https://example.com/webhooks/gatehouse' });
export const endpointDescription = z.string().max(500, 'at most 500 characters');
export const subscribedTypes = z
  .array(eventTypeName)
  .max(200, 'at most 200 event types')
  .nullable()
  .meta({ description: 'Event types to receive; null or omitted: every type.', example: ['product.generated', 'key.rotated'] });

export const endpointId = z.string().min(1).max(64).meta({ example: 'ep_2f9c0e7b1a3d4c5e6f708192' });
export const eventId = z.string().min(1).max(64).meta({ example: 'msg_5b1c9e2d7a0f3c4b8e6d1a20' });
export const deliveryId = z.string().min(1).max(64).meta({ example: 'dlv_8e1f2a3b4c5d6e7f8091a2b3c4d5e6f7' });
export const deliveryStatus = z.enum(['pending', 'retrying', 'succeeded', 'failed', 'skipped', 'paused']);

/** Any JSON object; the 256 KB bound is checked on the serialised payload (413), not here. */
export const eventPayload = z.record(z.string(), z.unknown()).meta({ example: { product_id: 'prod_123', name: 'Sneaker' } });

/** A custom event type's payload schema, checked when the type is registered (core/events/payload-schema.ts). */
export const payloadJsonSchema = z.record(z.string(), z.unknown()).meta({
  description:
    'JSON Schema (draft 2020-12) every payload of this type must match (a payload that does not is a 400 naming its JSON path); the first of its `examples` is shown as the example. Patterns use RE2 syntax; `format` is not checked.',
  example: {
    type: 'object',
    properties: { order_id: { type: 'string' }, items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } } },
    required: ['order_id'],
    examples: [{ order_id: 'ord_1', items: [{ sku: 'SNK-42' }] }],
  },
});

export const idempotencyKey = z
  .string()
  .min(1)
  .max(200, 'at most 200 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const listLimit = z.coerce.number().int().min(1, 'at least 1').max(100, 'at most 100').default(20);
export const isoDate = z.iso
  .datetime({ offset: true, error: 'expected an ISO 8601 date-time such as 2024-01-15T10:30:00Z' })
  .transform((s) => new Date(s))
  .meta({ example: '2024-01-15T00:00:00Z' });
