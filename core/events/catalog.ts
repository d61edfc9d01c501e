import { z } from 'zod';

/**
 * Every event type Gatehouse raises or offers built in, each declared once: its payload schema,
 * what it means and an example. From here come `raiseEvent()`'s types (a misspelt type or a wrong
 * payload fails typecheck), the built-in rows of `event_type` (written at start-up), the schemas
 * and examples `GET /event-types` returns, and the `webhooks` section of `/openapi.json`.
 *
 * Names outside Gatehouse's own namespaces (`product.*`, `content.*`, …) are published by the
 * customer's systems through `POST /events`: their schemas name the usual fields and let any other
 * field through, so a customer's own payload shape keeps being accepted.
 */

const dateTime = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative();

interface EventDefinition<S extends z.ZodType<Record<string, unknown>>> {
  description: string;
  schema: S;
  example: z.input<S>;
}

const define = <S extends z.ZodType<Record<string, unknown>>>(d: EventDefinition<S>): EventDefinition<S> => d;

const rateLimitWarning = z.object({
  key_id: z.string(),
  limit_name: z.string(),
  limit: count,
  window_seconds: count.nullable(),
  window_start: dateTime.nullable(),
  reset_at: dateTime,
  used: count,
  remaining: count,
  threshold: z.union([z.literal(80), z.literal(100)]).meta({ description: 'Percent of the limit used when the warning fired.' }),
});
const rateLimitExample = {
  key_id: 'key_prod',
  limit_name: 'per-minute',
  limit: 100,
  window_seconds: 60,
  window_start: '2026-11-30T12:00:00.000Z',
  reset_at: '2026-11-30T12:01:00.000Z',
  used: 80,
  remaining: 20,
  threshold: 80,
} satisfies z.input<typeof rateLimitWarning>;

const workspaceId = z.string().meta({ description: 'The workspace (customer) the event is about: operator-wide endpoints receive every workspace’s.' });
const month = z.string().regex(/^\d{4}-\d{2}$/);

const quotaWarning = z.object({
  workspace_id: workspaceId,
  plan_id: z.string().nullable(),
  month,
  limit: count.meta({ description: 'The monthly call quota in force (plan or override).' }),
  used: count,
  remaining: count,
  reset_at: dateTime.meta({ description: 'Start of next month (UTC), when the quota starts again.' }),
  threshold: z.union([z.literal(80), z.literal(100)]).meta({ description: 'Percent of the quota used when the warning fired.' }),
});
const quotaExample = {
  workspace_id: 'trebol',
  plan_id: 'pro',
  month: '2026-11',
  limit: 100000,
  used: 80000,
  remaining: 20000,
  reset_at: '2026-12-01T00:00:00.000Z',
  threshold: 80,
} satisfies z.input<typeof quotaWarning>;

const limitRequest = z.object({
  workspace_id: workspaceId,
  request_id: z.string(),
  kind: z.enum(['key_limit', 'workspace_quota', 'plan']),
  key_id: z.string().nullable(),
  limit_name: z.string().nullable(),
  current_limit: count.nullable(),
  requested_limit: count.nullable(),
  window_seconds: count.nullable(),
  requested_plan: z.string().nullable(),
  reason: z.string(),
  requested_by: z.string(),
});
const limitRequestExample = {
  workspace_id: 'trebol',
  request_id: 'lr_9b1c2d3e4f5a6b7c8d9e0f1a',
  kind: 'workspace_quota',
  key_id: null,
  limit_name: null,
  current_limit: 100000,
  requested_limit: 250000,
  window_seconds: null,
  requested_plan: 'pro',
  reason: 'Black Friday traffic',
  requested_by: 'admin',
} satisfies z.input<typeof limitRequest>;

export const EVENT_CATALOG = {
  'product.generated': define({
    description: 'A product was generated',
    schema: z.looseObject({ product_id: z.string().optional(), name: z.string().optional(), sku: z.string().optional() }),
    example: { product_id: 'prod_123', name: 'Sneaker', sku: 'SNK-42' },
  }),
  'ai.generation.completed': define({
    description: 'An AI generation finished',
    schema: z.looseObject({ generation_id: z.string().optional(), product_id: z.string().optional(), model: z.string().optional() }),
    example: { generation_id: 'gen_81', product_id: 'prod_123', model: 'descriptra-2' },
  }),
  'content.approved': define({
    description: 'Content was approved',
    schema: z.looseObject({ content_id: z.string().optional(), approved_by: z.string().optional() }),
    example: { content_id: 'cnt_7', approved_by: 'editor@mystore.com' },
  }),
  'content.published': define({
    description: 'Content was published',
    schema: z.looseObject({ content_id: z.string().optional(), url: z.string().optional() }),
    example: { content_id: 'cnt_7', url: 'https://mystore.com/p/sneaker' },
  }),
  'export.completed': define({
    description: 'An export finished',
    schema: z.looseObject({ export_id: z.string().optional(), format: z.string().optional(), file: z.string().optional(), url: z.string().optional() }),
    example: { export_id: 'exp_3', format: 'csv', file: 'products.csv', url: 'https://files.mystore.com/exports/products.csv' },
  }),
  'credits.low': define({
    description: "A key's credits are running low",
    schema: z.object({
      key_id: z.string(),
      credits_remaining: count,
      quota: count.nullable().meta({ description: 'The refill amount; null for a key without refills (then only the 100 % warning fires).' }),
      refill_interval: z.string().nullable(),
      threshold: z.union([z.literal(80), z.literal(100)]),
      period_start: dateTime,
    }),
    example: { key_id: 'key_prod', credits_remaining: 180, quota: 1000, refill_interval: 'monthly', threshold: 80, period_start: '2026-11-01T00:00:00.000Z' },
  }),
  'key.created': define({
    description: 'An API key was created',
    schema: z.object({ key_id: z.string(), environment: z.enum(['live', 'test']), actor_key_id: z.string().nullable() }),
    example: { key_id: 'key_prod', environment: 'live', actor_key_id: 'admin' },
  }),
  'key.rotated': define({
    description: 'An API key was rotated',
    schema: z.object({
      key_id: z.string(),
      rotation: count,
      rotated_at: dateTime,
      previous_key_expires_at: dateTime.meta({ description: 'The old secret keeps working until then (the grace period).' }),
      grace_period_seconds: count,
    }),
    example: {
      key_id: 'key_prod',
      rotation: 3,
      rotated_at: '2026-11-30T12:00:00.000Z',
      previous_key_expires_at: '2026-12-01T12:00:00.000Z',
      grace_period_seconds: 86400,
    },
  }),
  'key.revoked': define({
    description: 'An API key was revoked',
    schema: z.union([
      z
        .object({ key_id: z.string(), actor_key_id: z.string().nullable(), deleted: z.boolean() })
        .meta({ description: 'Revoked or deleted through the API.' }),
      z
        .object({ key_id: z.string(), reason: z.literal('rotation'), rotation: count, revoked_at: dateTime })
        .meta({ description: "A rotation's grace period ended: the secret it replaced stopped working." }),
    ]),
    example: { key_id: 'key_prod', actor_key_id: 'admin', deleted: false },
  }),
  'key.expiring': define({
    description: 'An API key expires soon',
    schema: z.object({ key_id: z.string(), expires_at: dateTime }),
    example: { key_id: 'key_prod', expires_at: '2026-12-07T00:00:00.000Z' },
  }),
  'key.rotation_due': define({
    description: "An API key's rotation policy is due",
    schema: z.object({
      key_id: z.string(),
      due_at: dateTime,
      overdue: z.boolean(),
      rotation_policy_days: count.nullable(),
      last_rotated_at: dateTime.nullable(),
    }),
    example: { key_id: 'key_prod', due_at: '2026-12-07T00:00:00.000Z', overdue: false, rotation_policy_days: 90, last_rotated_at: '2026-09-08T00:00:00.000Z' },
  }),
  'usage.rate_limit.approaching': define({
    description: 'A key reached 80 % of a rate limit',
    schema: rateLimitWarning,
    example: rateLimitExample,
  }),
  'usage.rate_limit.exceeded': define({
    description: 'A key exceeded a rate limit',
    schema: rateLimitWarning,
    example: { ...rateLimitExample, used: 100, remaining: 0, threshold: 100 },
  }),
  'usage.monthly_report': define({
    description: 'Monthly usage totals',
    schema: z.object({
      workspace_id: workspaceId,
      month,
      calls: count,
      errors_4xx: count,
      errors_5xx: count,
      error_rate: z.number().meta({ description: 'Errors (4xx and 5xx) over calls, 0 to 1.' }),
      avg_latency_ms: z.number(),
      p95_latency_ms: z.number(),
      top_keys: z.array(z.object({ key_id: z.string().nullable(), calls: count, errors: count })).meta({ description: 'Up to 10 keys, most calls first.' }),
    }),
    example: {
      workspace_id: 'trebol',
      month: '2026-11',
      calls: 245000,
      errors_4xx: 600,
      errors_5xx: 135,
      error_rate: 0.003,
      avg_latency_ms: 120,
      p95_latency_ms: 310,
      top_keys: [{ key_id: 'key_prod', calls: 198000, errors: 510 }],
    },
  }),
  'webhook.endpoint.disabled': define({
    description: 'A webhook endpoint was disabled',
    schema: z.object({ workspace_id: workspaceId, endpoint_id: z.string(), url: z.string(), reason: z.string(), disabled_at: dateTime }),
    example: {
      workspace_id: 'trebol',
      endpoint_id: 'ep_2f9c0e7b1a3d4c5e6f708192',
      url: 'https://api.mystore.com/hook',
      reason: 'endpoint answered 410 Gone',
      disabled_at: '2026-11-30T12:00:00.000Z',
    },
  }),
  'workspace.created': define({
    description: 'A workspace (customer) was created',
    schema: z.object({ workspace_id: workspaceId, name: z.string(), plan_id: z.string().nullable(), actor_key_id: z.string().nullable() }),
    example: { workspace_id: 'trebol', name: 'Trebol', plan_id: 'free', actor_key_id: 'bootstrap' },
  }),
  'usage.quota.approaching': define({
    description: "A workspace used 80 % of its plan's monthly call quota",
    schema: quotaWarning,
    example: quotaExample,
  }),
  'usage.quota.exceeded': define({
    description: "A workspace used all of its plan's monthly call quota: verifications answer USAGE_EXCEEDED until the month ends or the quota is raised",
    schema: quotaWarning,
    example: { ...quotaExample, used: 100000, remaining: 0, threshold: 100 },
  }),
  'usage.quota.reset': define({
    description: "A new month began: the workspace's monthly call quota starts again",
    schema: z.object({ workspace_id: workspaceId, plan_id: z.string().nullable(), month, limit: count, previous_month_calls: count }),
    example: { workspace_id: 'trebol', plan_id: 'pro', month: '2026-12', limit: 100000, previous_month_calls: 100000 },
  }),
  'limits.request.created': define({
    description: 'A customer asked for more: a higher key rate limit, a larger monthly quota or another plan',
    schema: limitRequest,
    example: limitRequestExample,
  }),
  'limits.request.decided': define({
    description: 'The provider approved or declined a limit request, or it expired undecided',
    schema: limitRequest.extend({
      status: z.enum(['approved', 'declined', 'expired']),
      approved_limit: count.nullable().meta({ description: 'What was granted, when it differs from the request.' }),
      approved_plan: z.string().nullable(),
      note: z.string().nullable(),
      decided_by: z.string().nullable(),
      decided_at: dateTime,
    }),
    example: {
      ...limitRequestExample,
      status: 'approved',
      approved_limit: 200000,
      approved_plan: null,
      note: 'Raised to 200k for December',
      decided_by: 'bootstrap',
      decided_at: '2026-11-30T12:00:00.000Z',
    },
  }),
  'webhook.test': define({
    description: 'A test event, sent by POST /webhooks/{id}/test to that endpoint only',
    schema: z.object({ message: z.string(), endpoint_id: z.string(), sent_at: dateTime }),
    example: { message: 'A test event from Gatehouse', endpoint_id: 'ep_2f9c0e7b1a3d4c5e6f708192', sent_at: '2026-11-30T12:00:00.000Z' },
  }),
};

export type CatalogEventType = keyof typeof EVENT_CATALOG;

/**
 * The provider-level events an operator-wide endpoint (`all_workspaces`) receives from every
 * workspace; each payload names its workspace. A customer's own events never leave its workspace.
 */
export const OPERATOR_EVENT_TYPES = [
  'workspace.created',
  'limits.request.created',
  'limits.request.decided',
  'usage.quota.approaching',
  'usage.quota.exceeded',
  'usage.quota.reset',
  'usage.monthly_report',
  'webhook.endpoint.disabled',
] as const satisfies readonly CatalogEventType[];
/** What `raiseEvent()` takes as the payload of a `T` event. */
export type EventPayload<T extends CatalogEventType> = z.input<(typeof EVENT_CATALOG)[T]['schema']>;

export const CATALOG_EVENT_TYPES = Object.keys(EVENT_CATALOG) as CatalogEventType[];

export function isCatalogEventType(name: string): name is CatalogEventType {
  return Object.hasOwn(EVENT_CATALOG, name);
}

/** The payload's JSON Schema (draft 2020-12), with the description and the example under `examples`. */
export function catalogJsonSchema(type: CatalogEventType): Record<string, unknown> {
  const entry: EventDefinition<z.ZodType<Record<string, unknown>>> = EVENT_CATALOG[type];
  const schema = z.toJSONSchema(entry.schema, { target: 'draft-2020-12', io: 'input' });
  return { ...schema, description: entry.description, examples: [entry.example] };
}
