import { z } from 'zod';
import type { EndpointView } from '../../core/webhooks/endpoints.js';
import type { AttemptView, DeliveryView } from '../../core/webhooks/deliveries.js';
import type { EventView } from '../../core/webhooks/events.js';
import type { RecoveryView } from '../../core/webhooks/recovery.js';
import type { EventTypeView } from '../../core/webhooks/event-types.js';
import { deliveryStatus } from '../../core/webhooks/schema.js';

// snake_case bodies of the webhook REST routes, and the mappers from core's views to them.

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const dateTime = z.string().meta({ format: 'date-time', example: '2024-01-15T10:30:00.000Z' });

export const EndpointBody = z
  .object({
    id: z.string().meta({ example: 'ep_2f9c0e7b1a3d4c5e6f708192' }),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()).nullable().meta({ description: 'null: every event type' }),
    status: z.enum(['active', 'paused', 'disabled']),
    https_only: z.boolean(),
    disabled_reason: z.string().nullable(),
    disabled_at: dateTime.nullable(),
    last_triggered_at: dateTime.nullable(),
    secret_rotated_at: dateTime.nullable(),
    previous_secret_expires_at: dateTime.nullable().meta({ description: 'Until then the previous secret also signs.' }),
    created_at: dateTime,
    updated_at: dateTime,
  })
  .meta({ id: 'WebhookEndpoint' });

export const endpointBody = (e: EndpointView): z.input<typeof EndpointBody> => ({
  id: e.id,
  url: e.url,
  description: e.description,
  event_types: e.eventTypes,
  status: e.status,
  https_only: e.httpsOnly,
  disabled_reason: e.disabledReason,
  disabled_at: iso(e.disabledAt),
  last_triggered_at: iso(e.lastTriggeredAt),
  secret_rotated_at: iso(e.secretRotatedAt),
  previous_secret_expires_at: iso(e.previousSecretExpiresAt),
  created_at: e.createdAt.toISOString(),
  updated_at: e.updatedAt.toISOString(),
});

export const AttemptBody = z
  .object({
    attempt: z.number().int(),
    attempted_at: dateTime,
    trigger: z.enum(['scheduled', 'manual']),
    status_code: z.number().int().meta({ description: '0: no HTTP answer (network error, refused address, timeout)' }),
    duration_ms: z.number().int(),
    response: z.string().meta({ description: 'The first 20 KB of the response body' }),
    error: z.string().nullable(),
  })
  .meta({ id: 'DeliveryAttempt' });

const attemptBody = (a: AttemptView): z.input<typeof AttemptBody> => ({
  attempt: a.attempt,
  attempted_at: a.attemptedAt.toISOString(),
  trigger: a.trigger as 'scheduled' | 'manual',
  status_code: a.statusCode,
  duration_ms: a.durationMs,
  response: a.response,
  error: a.error,
});

export const DeliveryBody = z
  .object({
    id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    endpoint_id: z.string(),
    status: deliveryStatus,
    workflow_id: z.string().meta({ description: 'Find it in the Temporal Web UI', example: 'delivery:msg_…:ep_…' }),
    attempt_count: z.number().int(),
    next_attempt_at: dateTime.nullable(),
    last_attempt_at: dateTime.nullable(),
    created_at: dateTime,
    attempts: z.array(AttemptBody),
  })
  .meta({ id: 'Delivery' });

export const deliveryBody = (d: DeliveryView): z.input<typeof DeliveryBody> => ({
  id: d.id,
  event_id: d.eventId,
  event_type: d.eventType,
  endpoint_id: d.endpointId,
  status: d.status,
  workflow_id: d.workflowId,
  attempt_count: d.attemptCount,
  next_attempt_at: iso(d.nextAttemptAt),
  last_attempt_at: iso(d.lastAttemptAt),
  created_at: d.createdAt.toISOString(),
  attempts: d.attempts.map(attemptBody),
});

export const EventBody = z
  .object({
    id: z.string(),
    type: z.string(),
    source: z.enum(['api', 'gatehouse']),
    created_at: dateTime,
    dispatched_at: dateTime.nullable(),
    deliveries: z.number().int(),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Event' });

export const eventBody = (e: EventView): z.input<typeof EventBody> => ({
  id: e.id,
  type: e.type,
  source: e.source as 'api' | 'gatehouse',
  created_at: e.createdAt.toISOString(),
  dispatched_at: iso(e.dispatchedAt),
  deliveries: e.deliveries,
  ...(e.payload ? { payload: e.payload } : {}),
});

export const EventTypeBody = z
  .object({
    name: z.string(),
    description: z.string(),
    built_in: z.boolean(),
    schema: z
      .record(z.string(), z.unknown())
      .nullable()
      .meta({ description: "JSON Schema (draft 2020-12) of the payload; null for a custom type registered without one." }),
    example: z.record(z.string(), z.unknown()).nullable().meta({ description: 'An example payload.' }),
    created_at: dateTime,
  })
  .meta({ id: 'EventType' });

export const eventTypeBody = (t: EventTypeView): z.input<typeof EventTypeBody> => ({
  name: t.name,
  description: t.description,
  built_in: t.builtIn,
  schema: t.schema,
  example: t.example,
  created_at: t.createdAt.toISOString(),
});

export const RecoveryBody = z
  .object({
    id: z.number().int(),
    endpoint_id: z.string(),
    workflow_id: z.string().meta({ example: 'recover:ep_…:1' }),
    status: z.enum(['running', 'completed', 'failed']),
    since: dateTime,
    total: z.number().int(),
    replayed: z.number().int(),
  })
  .meta({ id: 'Recovery' });

export const recoveryBody = (r: RecoveryView): z.input<typeof RecoveryBody> => ({
  id: r.id,
  endpoint_id: r.endpointId,
  workflow_id: r.workflowId,
  status: r.status,
  since: r.since.toISOString(),
  total: r.total,
  replayed: r.replayed,
});
