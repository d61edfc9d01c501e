import { z } from 'zod';
import { createKey, deleteKey, getKey, listKeys, revokeKey, updateKey, type KeyView } from '../../core/keys/service.js';
import {
  closedObject,
  creditsRemainingSchema,
  duplicateRateLimitName,
  enabledSchema,
  environmentSchema,
  expiresAtSchema,
  ipAllowlistSchema,
  keyIdSchema,
  keyStatusSchema,
  listKeysInput,
  metadataSchema,
  nameSchema,
  permissionsSchema,
  rateLimitSchema,
  refillSchema,
  rotationPolicyDaysSchema,
  type CreditsInput,
  type RateLimitInput,
} from '../../core/keys/schema.js';
import { actorOf, keyDeps } from '../actor.js';
import { badRequest } from '../../core/errors.js';
import { snakeErrors, snakeKeysDeep } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['api-keys'];
const timestamp = (description: string) => z.string().meta({ description, example: '2024-01-15T10:30:00.000Z', format: 'date-time' });
const nullableTimestamp = (description: string) => timestamp(description).nullable();

// ---- request parts, snake_case over the shared validators -----------------------------------

const RateLimitBody = closedObject({
    name: rateLimitSchema.shape.name,
    limit: rateLimitSchema.shape.limit,
    window_seconds: rateLimitSchema.shape.windowSeconds,
  })
  .meta({ description: 'At most `limit` verifications per `window_seconds`; several limits may apply at once.' });

const RateLimitsBody = z
  .array(RateLimitBody)
  .max(10, 'at most 10 rate limits')
  .transform((list): RateLimitInput[] => list.map((l) => ({ name: l.name, limit: l.limit, windowSeconds: l.window_seconds })))
  .superRefine((limits, ctx) => {
    const dup = duplicateRateLimitName(limits);
    if (dup) ctx.addIssue({ code: 'custom', message: `two rate limits are named '${dup}'; give each a distinct name` });
  })
  .meta({ example: [{ name: 'per-minute', limit: 100, window_seconds: 60 }] });

const CreditsBody = closedObject({ remaining: creditsRemainingSchema, refill: refillSchema.nullable().optional() })
  .meta({ description: 'Optional quota: verifications fail with USAGE_EXCEEDED at 0; null for unlimited.' });

const writableFields = {
  name: nameSchema.optional(),
  permissions: permissionsSchema.optional(),
  rate_limits: RateLimitsBody.optional(),
  ip_allowlist: ipAllowlistSchema.optional(),
  metadata: metadataSchema.optional(),
  enabled: enabledSchema.optional(),
};

const CreateApiKeyBody = closedObject({
    id: keyIdSchema.nullish().meta({
      description: 'Your id for the key, unique in the workspace, e.g. `api-key-produccion-2024`. Omitted or null: `ak_` + 16 hex.',
      example: 'mi-api-key-1',
    }),
    environment: environmentSchema.optional(),
    ...writableFields,
    permissions: permissionsSchema
      .optional()
      .meta({ description: 'Defaults to the permissions of the calling key (minus `operator`). A key grants only what it holds itself.' }),
    rate_limits: RateLimitsBody.optional().meta({
      description: "Omitted: the calling key's own. Only the workspace admin may give a key looser limits than the calling key's.",
    }),
    credits: CreditsBody.nullish().meta({
      description: "Omitted: the calling key's own; null for unlimited. Only the workspace admin may give a key more credits than the calling key has.",
    }),
    expires_at: expiresAtSchema.nullish(),
    rotation_policy_days: rotationPolicyDaysSchema.nullish(),
  })
  .meta({ id: 'CreateApiKey', example: { id: 'mi-api-key-1' } });

const UpdateApiKeyBody = closedObject({
    ...writableFields,
    credits: CreditsBody.nullable().optional(),
    expires_at: expiresAtSchema.nullable().optional(),
    rotation_policy_days: rotationPolicyDaysSchema.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field to change' })
  .meta({ id: 'UpdateApiKey', example: { name: 'CRM integration', rate_limits: [{ name: 'per-minute', limit: 600, window_seconds: 60 }] } });

const IdParams = z.object({ id: keyIdSchema });

// ---- responses ------------------------------------------------------------------------------

export const ApiKeyBody = z
  .object({
    id: z.string().meta({ example: 'api-key-produccion-2024' }),
    created_at: timestamp('When the key was created (UTC).'),
    client_id: z.string().meta({ description: 'The key\'s OAuth 2.0 client id (public; the secret is the client secret): see docs/oauth.md.', example: 'ci_0f3a9c2e7b5d41a8e6c0b2d4f6a8c1e3' }),
    name: z.string(),
    environment: z.enum(['live', 'test']),
    status: keyStatusSchema,
    permissions: z.array(z.string()).meta({ description: 'As granted; presets stay presets.', example: ['write'] }),
    scopes: z.array(z.string()).meta({ description: 'The permissions with presets expanded.' }),
    start: z.string().meta({ description: 'Masked start of the secret; the secret itself is never shown again.', example: 'treb_sk_live_Ab3x***' }),
    enabled: z.boolean(),
    rate_limits: z.array(z.object({ name: z.string(), limit: z.number().int(), window_seconds: z.number().int() })),
    credits: z
      .object({
        remaining: z.number().int(),
        refill: z.object({ amount: z.number().int(), interval: z.enum(['daily', 'monthly']), last_refill_at: nullableTimestamp('Last refill.') }).nullable(),
      })
      .nullable(),
    expires_at: nullableTimestamp('When the key stops working; null for never.'),
    ip_allowlist: z.array(z.string()),
    rotation_policy_days: z.number().int().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    rotation_count: z.number().int(),
    updated_at: timestamp('Last change.'),
    last_used_at: nullableTimestamp('Last successful verification.'),
    last_rotated_at: nullableTimestamp('Last rotation.'),
    revoked_at: nullableTimestamp('When the key was revoked; null while it is not.'),
  })
  .meta({ id: 'ApiKey' });

export function apiKeyToRest({ id, createdAt, ...rest }: KeyView): z.input<typeof ApiKeyBody> {
  // The seed's order (id, created_at first); rate limits, stored as JSON, show these three fields only
  // (set again, a key keeps its place).
  const rateLimits = rest.rateLimits.map(({ name, limit, windowSeconds }) => ({ name, limit, windowSeconds }));
  return snakeKeysDeep({ id, createdAt, ...rest, rateLimits });
}

const CreatedApiKeyBody = z
  .object({
    id: z.string().meta({ example: 'mi-api-key-1' }),
    api_key: z.string().meta({
      description: 'The secret. Shown in this response only: store it now. Format `<prefix>_sk_<env>_<22 random><6 checksum>`.',
      example: 'treb_sk_live_4fZ8kQ2mN7pR1sT5vW9xY3Ab12CdE',
    }),
    created_at: timestamp('When the key was created (UTC).'),
  })
  .extend(ApiKeyBody.omit({ id: true, created_at: true }).shape)
  .meta({ id: 'CreatedApiKey' });

const credits = (c: z.output<typeof CreditsBody> | null | undefined): CreditsInput | null | undefined =>
  c === undefined ? undefined : c === null ? null : { remaining: c.remaining, refill: c.refill ?? null };

// ---- routes ---------------------------------------------------------------------------------

export const listApiKeysRoute = defineRoute({
  method: 'get',
  path: '/api-keys',
  summary: 'List the API keys of your workspace, newest first',
  tags: TAGS,
  scope: 'keys:read',
  query: closedObject({
      environment: listKeysInput.shape.environment,
      status: listKeysInput.shape.status,
      permission: listKeysInput.shape.permission,
      search: listKeysInput.shape.search,
      limit: listKeysInput.shape.limit.meta({ description: 'Page size, 1-500 (default 100).', example: 100 }),
      cursor: listKeysInput.shape.cursor.meta({ description: '`next_cursor` of the previous page.' }),
    })
    .meta({ description: 'Filters; all optional.' }),
  response: z
    .object({
      api_keys: z.array(ApiKeyBody),
      next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
    })
    .meta({
      example: {
        api_keys: [
          { id: 'ak_1234567890abcdef', created_at: '2024-01-15T10:30:00.000Z' },
          { id: 'ak_0987654321fedcba', created_at: '2024-01-10T14:20:00.000Z' },
        ],
        next_cursor: null,
      },
    }),
  handler: async ({ ctx, query }) => {
    const page = await listKeys(ctx.em, ctx.principal.workspaceId, query);
    return { api_keys: page.keys.map(apiKeyToRest), next_cursor: page.nextCursor };
  },
});

export const createApiKeyRoute = defineRoute({
  method: 'post',
  path: '/api-keys',
  summary: 'Create an API key; its secret (`api_key`) is shown in this response only',
  tags: TAGS,
  scope: 'keys:write',
  status: 201,
  errors: [409],
  body: CreateApiKeyBody,
  response: CreatedApiKeyBody,
  handler: async ({ ctx, body }) => {
    // Core names a plan ceiling's field in camelCase (`rateLimits[0]`); REST callers sent `rate_limits`.
    const created = await snakeErrors(createKey(keyDeps(ctx), actorOf(ctx), {
      id: body.id,
      name: body.name,
      environment: body.environment,
      permissions: body.permissions,
      rateLimits: body.rate_limits,
      credits: credits(body.credits),
      expiresAt: body.expires_at,
      ipAllowlist: body.ip_allowlist,
      rotationPolicyDays: body.rotation_policy_days,
      metadata: body.metadata,
      enabled: body.enabled,
    }));
    const { secret, ...view } = created;
    // The seed's order: id, api_key, created_at first.
    const { id, created_at, ...rest } = apiKeyToRest(view);
    return { id, api_key: secret, created_at, ...rest };
  },
});

export const getApiKeyRoute = defineRoute({
  method: 'get',
  path: '/api-keys/{id}',
  summary: 'One API key (never its secret)',
  tags: TAGS,
  scope: 'keys:read',
  errors: [404],
  params: IdParams,
  response: ApiKeyBody,
  handler: async ({ ctx, params }) => apiKeyToRest(await getKey(ctx.em, ctx.principal.workspaceId, params.id)),
});

export const updateApiKeyRoute = defineRoute({
  method: 'patch',
  path: '/api-keys/{id}',
  summary: 'Change an API key: name, permissions, rate limits, credits, expiry, IP allowlist, rotation policy, metadata, enabled',
  tags: TAGS,
  scope: 'keys:write',
  errors: [404, 409],
  params: IdParams,
  body: UpdateApiKeyBody,
  response: ApiKeyBody,
  handler: async ({ ctx, params, body }) => {
    if (Object.keys(body).length === 0) throw badRequest('body: send at least one field to change');
    const view = await snakeErrors(updateKey(keyDeps(ctx), actorOf(ctx), params.id, {
      name: body.name,
      permissions: body.permissions,
      rateLimits: body.rate_limits,
      credits: credits(body.credits),
      expiresAt: body.expires_at,
      ipAllowlist: body.ip_allowlist,
      rotationPolicyDays: body.rotation_policy_days,
      metadata: body.metadata,
      enabled: body.enabled,
    }));
    return apiKeyToRest(view);
  },
});

export const revokeApiKeyRoute = defineRoute({
  method: 'post',
  path: '/api-keys/{id}/revoke',
  summary: 'Revoke an API key for good: it stops working on every API process at once; it stays listed as revoked',
  tags: TAGS,
  scope: 'keys:write',
  errors: [404],
  params: IdParams,
  response: ApiKeyBody,
  handler: async ({ ctx, params }) => apiKeyToRest(await revokeKey(keyDeps(ctx), actorOf(ctx), params.id)),
});

export const deleteApiKeyRoute = defineRoute({
  method: 'delete',
  path: '/api-keys/{id}',
  summary: 'Delete an API key: it stops working at once and is gone from lists; the audit log keeps the record',
  tags: TAGS,
  scope: 'keys:write',
  errors: [404],
  params: IdParams,
  response: z
    .object({ message: z.string().meta({ example: "API key 'ak_1234567890abcdef' deleted" }), id: z.string() })
    .meta({ id: 'DeletedApiKey' }),
  handler: async ({ ctx, params }) => {
    const { id } = await deleteKey(keyDeps(ctx), actorOf(ctx), params.id);
    return { message: `API key '${id}' deleted`, id };
  },
});

export const apiKeyRoutes = [listApiKeysRoute, createApiKeyRoute, getApiKeyRoute, updateApiKeyRoute, revokeApiKeyRoute, deleteApiKeyRoute];
