import { z } from 'zod';
import { approveLimitRequest, ApproveInput, declineLimitRequest, DeclineInput } from '../../core/limits/decide.js';
import { limitActor, limitDeps } from '../../core/limits/deps.js';
import {
  CreateLimitRequestInput,
  createLimitRequest,
  KeyLimitRequestFields,
  LimitQueueInput,
  limitRequestQueue,
  listLimitRequests,
  ListLimitRequestsInput,
  planIdSchema,
} from '../../core/limits/requests.js';
import { hasScope } from '../../core/permissions.js';
import { camelKeys, snakeErrors, snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['limit requests'];

const LimitRequest = z
  .object({
    id: z.string(),
    workspace_id: z.string(),
    kind: z.enum(['key_limit', 'workspace_quota', 'plan']),
    key_id: z.string().nullable(),
    limit_name: z.string().nullable(),
    current_limit: z.number().int().nullable(),
    requested_limit: z.number().int().nullable(),
    window_seconds: z.number().int().nullable(),
    requested_plan: z.string().nullable(),
    reason: z.string(),
    status: z.enum(['pending', 'approved', 'declined', 'expired']),
    requested_by: z.string(),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    decision_note: z.string().nullable(),
    approved_limit: z.number().int().nullable().meta({ description: 'What was granted, when it differs from the request.' }),
    approved_plan: z.string().nullable(),
    expires_at: z.string().nullable().meta({ description: 'A pending request expires undecided at this time.' }),
    created_at: z.string(),
  })
  .meta({ id: 'LimitRequest' });

const Page = z.object({
  limit_requests: z.array(LimitRequest),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
});

const KeyLimitBody = z.strictObject({
  limit_name: KeyLimitRequestFields.shape.limitName,
  requested_limit: KeyLimitRequestFields.shape.requestedLimit,
  window_seconds: KeyLimitRequestFields.shape.windowSeconds,
  reason: KeyLimitRequestFields.shape.reason,
});

export const createKeyLimitRequestRoute = defineRoute({
  method: 'post',
  path: '/api-keys/{id}/limit-requests',
  summary: "Ask the provider for a higher rate limit on a key (same as POST /limit-requests with kind key_limit)",
  tags: TAGS,
  scope: 'usage:write',
  params: z.object({ id: z.string().min(1).max(128) }),
  body: KeyLimitBody,
  status: 201,
  errors: [404, 409],
  response: LimitRequest,
  handler: async ({ params, body, ctx }) =>
    snakeKeys(await snakeErrors(createLimitRequest(limitDeps(ctx), limitActor(ctx), { kind: 'key_limit', keyId: params.id, ...camelKeys(body) }))),
});

const CreateBody = z.discriminatedUnion('kind', [
  KeyLimitBody.extend({ kind: z.literal('key_limit'), key_id: z.string().min(1).max(128) }),
  z.strictObject({ kind: z.literal('workspace_quota'), requested_limit: z.number().int().min(1).max(1_000_000_000_000), reason: z.string().max(1000).default('') }),
  z.strictObject({ kind: z.literal('plan'), plan: planIdSchema, reason: z.string().max(1000).default('') }),
]);

export const createLimitRequestRoute = defineRoute({
  method: 'post',
  path: '/limit-requests',
  summary: 'Ask the provider for more: a key rate limit (usage:write), the monthly call quota or another plan (limits:write)',
  tags: TAGS,
  scope: 'usage:write',
  body: CreateBody.meta({ id: 'CreateLimitRequest', example: { kind: 'workspace_quota', requested_limit: 250000, reason: 'Black Friday traffic' } }),
  status: 201,
  errors: [404, 409],
  response: LimitRequest,
  handler: async ({ body, ctx }) => {
    const input = CreateLimitRequestInput.parse(camelKeys(body));
    return snakeKeys(await snakeErrors(createLimitRequest(limitDeps(ctx), limitActor(ctx), input)));
  },
});

export const listLimitRequestsRoute = defineRoute({
  method: 'get',
  path: '/limit-requests',
  summary: "Limit requests, newest first: the workspace's own; an operator's (or limits:approve) key sees every workspace's, optionally one's (workspace_id)",
  tags: TAGS,
  scope: 'usage:read',
  query: z.strictObject({
    status: ListLimitRequestsInput.shape.status,
    key_id: ListLimitRequestsInput.shape.keyId,
    workspace_id: LimitQueueInput.shape.workspaceId.meta({ description: 'Operators only: one workspace of the queue.' }),
    cursor: ListLimitRequestsInput.shape.cursor,
    limit: ListLimitRequestsInput.shape.limit,
  }),
  response: Page,
  handler: async ({ query, ctx }) => {
    const { workspace_id: workspaceId, key_id: keyId, ...rest } = query;
    // The provider's queue for a key that decides requests; the workspace's own list for everyone else.
    const page = hasScope(ctx.principal.scopes, 'limits:approve')
      ? await limitRequestQueue(ctx.em, { ...rest, workspaceId })
      : await listLimitRequests(ctx.em, ctx.principal.workspaceId, { ...rest, keyId });
    return { limit_requests: page.limitRequests.map(snakeKeys), next_cursor: page.nextCursor };
  },
});

export const approveLimitRequestRoute = defineRoute({
  method: 'post',
  path: '/limit-requests/{id}/approve',
  summary: 'Approve (operators and limits:approve): optionally another amount (`limit`) or a plan change (`plan`); takes effect at once',
  tags: TAGS,
  scope: 'limits:approve',
  params: z.object({ id: z.string().min(1).max(64) }),
  // Optional: no body at all approves what was asked for.
  body: ApproveInput,
  errors: [404, 409],
  response: LimitRequest,
  handler: async ({ params, body, ctx }) => snakeKeys(await snakeErrors(approveLimitRequest(limitDeps(ctx), limitActor(ctx), params.id, body))),
});

export const declineLimitRequestRoute = defineRoute({
  method: 'post',
  path: '/limit-requests/{id}/decline',
  summary: 'Decline with a note (operators and limits:approve)',
  tags: TAGS,
  scope: 'limits:approve',
  params: z.object({ id: z.string().min(1).max(64) }),
  body: DeclineInput,
  errors: [404, 409],
  response: LimitRequest,
  handler: async ({ params, body, ctx }) => snakeKeys(await snakeErrors(declineLimitRequest(limitDeps(ctx), limitActor(ctx), params.id, body))),
});

export const limitRequestRoutes = [createKeyLimitRequestRoute, createLimitRequestRoute, listLimitRequestsRoute, approveLimitRequestRoute, declineLimitRequestRoute];
