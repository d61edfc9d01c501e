import { z } from 'zod';
import { createWorkspace, keyPrefixSchema, listWorkspaces, workspaceIdSchema } from '../../core/workspaces.js';
import { closedObject, listLimitSchema } from '../../core/keys/schema.js';
import { actorOf, keyDeps } from '../actor.js';
import { camelKeys, snakeErrors, snakeJson, snakeKeys } from './case.js';
import { defineRoute } from './route.js';
import { badRequest } from '../../core/errors.js';
import { planIdSchema } from '../../core/plans/schema.js';
import { updateWorkspacePlan, workspaceDetail, type WorkspaceDetail } from '../../core/plans/workspace-plan.js';
import { limitFieldsBody, limitFieldsOut, PlanRateLimitsBody } from './plans.js';

const WorkspaceBody = z
  .object({
    id: z.string().meta({ example: 'trebol' }),
    name: z.string().meta({ example: 'Trebol' }),
    key_prefix: z.string().meta({ example: 'treb' }),
    created_at: z.string().meta({ format: 'date-time', example: '2024-01-15T10:30:00.000Z' }),
    active_keys: z.number().int().meta({ description: 'Keys not revoked.' }),
  })
  .meta({ id: 'Workspace' });

export const createWorkspaceRoute = defineRoute({
  method: 'post',
  path: '/workspaces',
  summary: 'Create a workspace (operators only); the answer holds its first admin key, shown this once',
  tags: ['workspaces'],
  scope: 'operator',
  status: 201,
  errors: [409],
  body: closedObject({
      id: workspaceIdSchema,
      name: z.string({ error: 'expected a string' }).trim().min(1, 'must not be empty').max(200, 'at most 200 characters').meta({ example: 'Trebol' }),
      key_prefix: keyPrefixSchema.optional().meta({ description: 'Start of the secrets it issues (default: the branding’s key prefix, else `gate`).' }),
    })
    .meta({ id: 'CreateWorkspace', example: { id: 'trebol', name: 'Trebol', key_prefix: 'treb' } }),
  response: WorkspaceBody.extend({
    admin_key: z
      .object({
        id: z.string().meta({ example: 'admin' }),
        api_key: z.string().meta({ description: 'The admin secret: shown in this response only.', example: 'treb_sk_live_4fZ8kQ2mN7pR1sT5vW9xY3Ab12CdE' }),
        created_at: z.string().meta({ format: 'date-time' }),
        permissions: z.array(z.string()).meta({ example: ['admin'] }),
      })
      .meta({ description: 'Admin preset, without `operator`: the workspace’s admin cannot reach other workspaces.' }),
  }).meta({ id: 'CreatedWorkspace' }),
  handler: async ({ ctx, body }) => {
    const { workspace, adminKey } = await createWorkspace(keyDeps(ctx), actorOf(ctx), { id: body.id, name: body.name, keyPrefix: body.key_prefix });
    return {
      ...snakeKeys(workspace),
      // `secret` is named `api_key` on the wire, as in every answer that shows a new secret.
      admin_key: snakeKeys({ id: adminKey.id, apiKey: adminKey.secret, createdAt: adminKey.createdAt, permissions: adminKey.permissions }),
    };
  },
});

export const listWorkspacesRoute = defineRoute({
  method: 'get',
  path: '/workspaces',
  summary: 'Every workspace, newest first (operators only)',
  tags: ['workspaces'],
  scope: 'operator',
  query: closedObject({
    limit: listLimitSchema.optional().meta({ description: 'Page size, 1-500 (default 100).' }),
    cursor: z.string().max(400).optional().meta({ description: '`next_cursor` of the previous page.' }),
  }),
  response: z.object({ workspaces: z.array(WorkspaceBody), next_cursor: z.string().nullable() }),
  handler: async ({ ctx, query }) => {
    const page = await listWorkspaces(ctx.em, query);
    return { workspaces: page.workspaces.map(snakeKeys), next_cursor: page.nextCursor };
  },
});

const WorkspaceDetailBody = WorkspaceBody.extend({
  plan_id: z.string().nullable().meta({ example: 'pro' }),
  plan_name: z.string().nullable().meta({ example: 'Pro' }),
  overrides: z.object(limitFieldsOut).partial().meta({ description: "This workspace's exceptions to its plan; each replaces the plan's (null: unlimited)." }),
  limits: z
    .object({ plan_id: z.string().nullable(), plan_name: z.string().nullable(), ...limitFieldsOut })
    .meta({ description: 'What applies: the plan with the overrides; null = unlimited.' }),
  month: z.object({
    month: z.string().meta({ example: '2026-12' }),
    calls: z.number().int(),
    credits: z.number().int(),
    quota: z.number().int().nullable(),
    credits_grant: z.number().int().nullable(),
    reset_at: z.string().meta({ format: 'date-time' }),
    quota_state: z.enum(['ok', 'approaching', 'exceeded']),
  }),
}).meta({ id: 'WorkspaceDetail' });

const detailToRest = (d: WorkspaceDetail) => snakeJson(d);

const WorkspaceIdParams = z.object({ id: workspaceIdSchema });

export const getWorkspaceRoute = defineRoute({
  method: 'get',
  path: '/workspaces/{id}',
  summary: 'One workspace with its plan, overrides, effective limits and this month’s use (operators only)',
  tags: ['workspaces'],
  scope: 'operator',
  errors: [404],
  params: WorkspaceIdParams,
  response: WorkspaceDetailBody,
  handler: async ({ ctx, params }) => detailToRest(await workspaceDetail(ctx.em, params.id)),
});

/** Overrides name only the limit fields (snake_case); the two lists take null as "no limit" too. */
const OverridesBody = closedObject({
  ...limitFieldsBody,
  key_rate_limits: PlanRateLimitsBody.nullable().optional(),
  workspace_rate_limits: PlanRateLimitsBody.nullable().optional(),
}).meta({ description: 'Replaces every exception ({} clears them); each field replaces the plan’s, null lifts it.', example: { monthly_calls: 500000 } });

export const updateWorkspaceRoute = defineRoute({
  method: 'patch',
  path: '/workspaces/{id}',
  summary: 'Assign a plan and per-customer overrides (operators only); the new limits apply at once',
  tags: ['workspaces'],
  scope: 'operator',
  errors: [404],
  params: WorkspaceIdParams,
  body: closedObject({
    plan: planIdSchema.nullable().optional().meta({ description: 'A plan id; null: no plan (unlimited).' }),
    overrides: OverridesBody.optional(),
  }).meta({ id: 'UpdateWorkspace', example: { plan: 'pro', overrides: { monthly_calls: 500000 } } }),
  response: WorkspaceDetailBody.extend({ notes: z.array(z.string()).meta({ description: 'What the change means now, e.g. a quota below this month’s calls.' }) }),
  handler: async ({ ctx, params, body }) => {
    if (Object.keys(body).length === 0) throw badRequest('body: send plan, overrides or both');
    const detail = await snakeErrors(
      updateWorkspacePlan(ctx.em, actorOf(ctx), { id: params.id, plan: body.plan, overrides: body.overrides === undefined ? undefined : camelKeys(body.overrides) }),
    );
    return snakeJson(detail);
  },
});

export const ownLimitsRoute = defineRoute({
  method: 'get',
  path: '/workspace/limits',
  summary: 'This workspace’s plan, effective limits and this month’s use of them',
  tags: ['workspaces'],
  scope: 'usage:read',
  response: WorkspaceDetailBody,
  handler: async ({ ctx }) => detailToRest(await workspaceDetail(ctx.em, ctx.principal.workspaceId)),
});

export const workspaceRoutes = [createWorkspaceRoute, listWorkspacesRoute, getWorkspaceRoute, updateWorkspaceRoute, ownLimitsRoute];
