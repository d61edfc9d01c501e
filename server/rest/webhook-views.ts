import { z } from 'zod';
import type { EndpointView, EndpointWithHealth } from '../../core/webhooks/endpoints.js';
import type { AttemptView, DeliveryView } from '../../core/webhooks/deliveries.js';
import type { EventView } from '../../core/webhooks/events.js';
import type { RecoveryView } from '../../core/webhooks/recovery.js';
import type { EventTypeView } from '../../core/webhooks/event-types.js';
import { deliveryStatus } from '../../core/webhooks/schema.js';
import { snakeJson } from './case.js';

// snake_case bodies of the webhook REST routes; each view is renamed by case.ts, typed here against its body.

const dateTime = z.string().meta({ format: 'date-time', example: '2024-01-15T10:30:00.000Z' });

export const EndpointBody = z
  .object({
    id: z.string().meta({ example: 'ep_2f9c0e7b1a3d4c5e6f708192' }),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()).nullable().meta({ description: 'null: every event type' }),
    all_workspaces: z.boolean().meta({ description: "Operator-wide: receives every workspace's operator events." }),
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

export const endpointBody = (e: EndpointView): z.input<typeof EndpointBody> => snakeJson(e);

/** An endpoint as GET /webhooks and GET /webhooks/{id} show it: with how its attempts went. */
export const EndpointWithHealthBody = EndpointBody.extend({
  attempts_24h: z.number().int().meta({ description: 'Delivery attempts over the last 24 hours; every retry counts.' }),
  success_rate_24h: z.number().min(0).max(1).nullable().meta({ description: 'Share of those attempts answered 2xx (0–1); null without attempts.', example: 0.75 }),
  failing_since: dateTime.nullable().meta({ description: 'Every attempt since then has failed; null once one succeeds.' }),
  health: z.enum(['healthy', 'failing', 'disabled', 'paused', 'no_traffic']),
}).meta({ id: 'WebhookEndpointWithHealth' });

export const endpointWithHealthBody = (e: EndpointWithHealth): z.input<typeof EndpointWithHealthBody> => ({
  ...endpointBody(e),
  attempts_24h: e.attempts24h,
  success_rate_24h: e.successRate24h,
  failing_since: e.failingSince ? e.failingSince.toISOString() : null,
  health: e.health,
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

// Core keeps `trigger` a string; the body narrows it (assigning an existing key keeps its place).
const attemptBody = (a: AttemptView): z.input<typeof AttemptBody> => ({ ...snakeJson(a), trigger: a.trigger as 'scheduled' | 'manual' });

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

export const deliveryBody = (d: DeliveryView): z.input<typeof DeliveryBody> => ({ ...snakeJson(d), attempts: d.attempts.map(attemptBody) });

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

// The payload (user data, never renamed) is shown only when the read loaded one.
export const eventBody = ({ payload, ...e }: EventView): z.input<typeof EventBody> => ({
  ...snakeJson(e),
  source: e.source as 'api' | 'gatehouse',
  ...(payload ? { payload } : {}),
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

export const eventTypeBody = (t: EventTypeView): z.input<typeof EventTypeBody> => snakeJson(t);

export const RecoveryBody = z
  .object({
    id: z.number().int(),
    endpoint_id: z.string(),
    workflow_id: z.string().meta({ example: 'recover:ep_…:1' }),
    status: z.enum(['running', 'completed', 'failed']),
    since: dateTime,
    total: z.number().int().meta({ description: 'Deliveries found: failed, skipped, or waiting for a retry.' }),
    replayed: z.number().int().meta({ description: 'Failed or skipped deliveries sent again.' }),
    retried_now: z.number().int().meta({ description: 'Deliveries waiting out a backoff that made their next attempt at once.' }),
  })
  .meta({ id: 'Recovery' });

export const recoveryBody = (r: RecoveryView): z.input<typeof RecoveryBody> => snakeJson(r);
