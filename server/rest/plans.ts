import { z } from 'zod';
import { closedObject } from '../../core/keys/schema.js';
import {
  countLimitSchema,
  duplicateWindow,
  grantableScopesSchema,
  monthlyAmountSchema,
  planIdSchema,
  planLimitSchema,
  planNameSchema,
  planWindowSchema,
  retentionDaysSchema,
} from '../../core/plans/schema.js';
import { createPlan, deletePlan, getPlan, listPlans, updatePlan, type PlanView } from '../../core/plans/service.js';
import { badRequest } from '../../core/errors.js';
import { actorOf } from '../actor.js';
import { camelKeys, snakeErrors, snakeKeysDeep } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['plans'];

/** `{"limit", "window_seconds"}`: core's plan rate limit, snake_case. */
export const PlanRateLimitBody = closedObject({ limit: planLimitSchema, window_seconds: planWindowSchema });
export const PlanRateLimitsBody = z
  .array(PlanRateLimitBody)
  .max(10, 'at most 10 rate limits')
  .transform((list) => list.map(camelKeys))
  .superRefine((limits, ctx) => {
    const dup = duplicateWindow(limits);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `two limits over ${dup} s; give each window one limit` });
  })
  .meta({ example: [{ limit: 100, window_seconds: 60 }] });

/** The limit fields in the REST API's words; each optional (PATCH, overrides), `null` = unlimited. */
export const limitFieldsBody = {
  key_rate_limits: PlanRateLimitsBody.optional().meta({ description: "Ceilings on each key's own rate limits." }),
  workspace_rate_limits: PlanRateLimitsBody.optional().meta({ description: "Rate limits shared by all of the workspace's keys." }),
  monthly_calls: monthlyAmountSchema.optional().meta({ description: 'Calls per UTC month, shared by all keys; null: unlimited.', example: 100000 }),
  monthly_credits: monthlyAmountSchema.optional().meta({ description: 'Credits a key may hold or be refilled with; null: unlimited.', example: 100000 }),
  max_keys: countLimitSchema.optional().meta({ description: 'Keys not revoked; null: unlimited.', example: 10 }),
  max_webhook_endpoints: countLimitSchema.optional().meta({ description: 'Webhook endpoints; null: unlimited.', example: 5 }),
  grantable_scopes: grantableScopesSchema.optional(),
  log_retention_days: retentionDaysSchema.optional().meta({ description: 'Days of request logs kept; null: as configured.', example: 30 }),
};

const RateLimitOut = z.object({ limit: z.number().int(), window_seconds: z.number().int() });
export const limitFieldsOut = {
  key_rate_limits: z.array(RateLimitOut),
  workspace_rate_limits: z.array(RateLimitOut),
  monthly_calls: z.number().int().nullable(),
  monthly_credits: z.number().int().nullable(),
  max_keys: z.number().int().nullable(),
  max_webhook_endpoints: z.number().int().nullable(),
  grantable_scopes: z.array(z.string()).nullable(),
  log_retention_days: z.number().int().nullable(),
};

const PlanBody = z
  .object({
    id: z.string().meta({ example: 'pro' }),
    name: z.string().meta({ example: 'Pro' }),
    ...limitFieldsOut,
    default: z.boolean().meta({ description: 'New workspaces get this plan.' }),
    workspaces: z.number().int().meta({ description: 'Workspaces on the plan.' }),
    created_at: z.string().meta({ format: 'date-time' }),
    updated_at: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Plan' });

const planToRest = (p: PlanView) => snakeKeysDeep(p);

const IdParams = z.object({ id: planIdSchema });
const defaultField = z.boolean({ error: 'expected true or false' }).optional().meta({ description: 'Make this the plan of new workspaces (clears the previous default).' });

const CreatePlanBody = closedObject({ id: planIdSchema, name: planNameSchema, ...limitFieldsBody, default: defaultField }).meta({
  id: 'CreatePlan',
  example: { id: 'free', name: 'Free', key_rate_limits: [{ limit: 100, window_seconds: 60 }], monthly_calls: 10000, max_keys: 3, default: true },
});
const UpdatePlanBody = closedObject({ name: planNameSchema.optional(), ...limitFieldsBody, default: defaultField }).meta({ id: 'UpdatePlan' });

/** A REST body's limit fields as core's camelCase fields (rate limits already renamed by their schema). */
const toCore = <T extends object>(body: T) => camelKeys(body);

export const listPlansRoute = defineRoute({
  method: 'get',
  path: '/plans',
  summary: 'Every plan (operators only)',
  tags: TAGS,
  scope: 'operator',
  response: z.object({ plans: z.array(PlanBody) }),
  handler: async ({ ctx }) => ({ plans: (await listPlans(ctx.em)).plans.map(planToRest) }),
});

export const createPlanRoute = defineRoute({
  method: 'post',
  path: '/plans',
  summary: 'Create a plan (operators only)',
  tags: TAGS,
  scope: 'operator',
  status: 201,
  errors: [409],
  body: CreatePlanBody,
  response: PlanBody,
  handler: async ({ ctx, body }) => planToRest(await snakeErrors(createPlan(ctx.em, actorOf(ctx), toCore(body)))),
});

export const getPlanRoute = defineRoute({
  method: 'get',
  path: '/plans/{id}',
  summary: 'One plan (operators only)',
  tags: TAGS,
  scope: 'operator',
  errors: [404],
  params: IdParams,
  response: PlanBody,
  handler: async ({ ctx, params }) => planToRest(await getPlan(ctx.em, params.id)),
});

export const updatePlanRoute = defineRoute({
  method: 'patch',
  path: '/plans/{id}',
  summary: "Change a plan (operators only): every workspace on it has the new limits at once",
  tags: TAGS,
  scope: 'operator',
  errors: [404],
  params: IdParams,
  body: UpdatePlanBody,
  response: PlanBody,
  handler: async ({ ctx, params, body }) => {
    if (Object.keys(body).length === 0) throw badRequest('body: send at least one field to change');
    return planToRest(await snakeErrors(updatePlan(ctx.em, actorOf(ctx), params.id, toCore(body))));
  },
});

export const deletePlanRoute = defineRoute({
  method: 'delete',
  path: '/plans/{id}',
  summary: 'Delete a plan no workspace is on (operators only); in use, a 409 naming the workspaces',
  tags: TAGS,
  scope: 'operator',
  errors: [404, 409],
  params: IdParams,
  response: z.object({ id: z.string(), deleted: z.literal(true) }),
  handler: async ({ ctx, params }) => deletePlan(ctx.em, actorOf(ctx), params.id),
});

export const planRoutes = [listPlansRoute, createPlanRoute, getPlanRoute, updatePlanRoute, deletePlanRoute];
