import { z } from 'zod';
import { closedObject } from '../keys/schema.js';
import { GATEHOUSE_RESOURCES, invalidPermission, OPERATOR, PRESETS } from '../permissions.js';
import { LIMIT_FIELDS } from './effective.js';

/**
 * The validators of plans and overrides (tRPC in camelCase; server/rest/plans.ts renames the same
 * field schemas to snake_case), so both faces refuse the same input with the same words.
 */

/** Like workspace ids: chosen by the operator, shown to customers (`free`, `pro-2026`). */
export const planIdSchema = z
  .string({ error: 'expected a string' })
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes, 2-63 characters, starting with a letter or digit')
  .meta({ description: 'Plan id, chosen by the operator.', example: 'pro' });

export const planNameSchema = z
  .string({ error: 'expected a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'at most 200 characters')
  .meta({ example: 'Pro' });

/** The same bounds as a key's own limits (core/keys/schema.ts): a ceiling a key could never reach is no ceiling. */
export const MAX_WINDOW_SECONDS = 31 * 24 * 3600;
export const planLimitSchema = z.number().int('expected an integer').min(1, 'at least 1').max(1_000_000_000, 'at most 1000000000').meta({ example: 100 });
export const planWindowSchema = z
  .number()
  .int('expected an integer')
  .min(1, 'at least 1 second')
  .max(MAX_WINDOW_SECONDS, 'at most 31 days (2678400 seconds)')
  .meta({ example: 60 });

export const planRateLimitSchema = closedObject({ limit: planLimitSchema, windowSeconds: planWindowSchema });

/** One limit per window: two ceilings over the same window would contradict each other. */
export function duplicateWindow(limits: readonly { windowSeconds: number }[]): number | undefined {
  const seen = new Set<number>();
  for (const l of limits) {
    if (seen.has(l.windowSeconds)) return l.windowSeconds;
    seen.add(l.windowSeconds);
  }
  return undefined;
}

export const planRateLimitsSchema = z
  .array(planRateLimitSchema)
  .max(10, 'at most 10 rate limits')
  .superRefine((limits, ctx) => {
    const dup = duplicateWindow(limits);
    if (dup !== undefined) ctx.addIssue({ code: 'custom', message: `two limits over ${dup} s; give each window one limit` });
  });

/** Monthly calls and credits are bigints in the database; past 2^53 a JSON number is no longer exact. */
export const monthlyAmountSchema = z.number().int('expected an integer').min(1, 'at least 1 (null for unlimited)').max(Number.MAX_SAFE_INTEGER, 'too large').nullable();
export const countLimitSchema = z.number().int('expected an integer').min(1, 'at least 1 (null for unlimited)').max(1_000_000, 'at most 1000000').nullable();
export const retentionDaysSchema = z.number().int('expected an integer').min(1, 'at least 1 day (null for unlimited)').max(3650, 'at most 3650 days').nullable();

/**
 * Why `scope` cannot be a plan's grantable scope, or undefined. Only customer scopes: Gatehouse's
 * own scopes follow the presets (read-only, write, admin) and `operator` is the provider's.
 */
export function invalidGrantableScope(scope: string): string | undefined {
  const problem = invalidPermission(scope);
  if (problem) return problem;
  if (scope === OPERATOR || Object.hasOwn(PRESETS, scope) || GATEHOUSE_RESOURCES.has(scope.split(':')[0]!)) {
    return `'${scope}' is Gatehouse's own; a plan lists customer scopes such as 'products:read' (Gatehouse's scopes follow the presets)`;
  }
  return undefined;
}

export const grantableScopesSchema = z
  .array(
    z.string({ error: 'expected a string' }).superRefine((value, ctx) => {
      const problem = invalidGrantableScope(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  )
  .max(200, 'at most 200 scopes')
  .transform((list) => [...new Set(list)].sort())
  .nullable()
  .meta({ description: 'Customer scopes the workspace may grant (`products:*` covers every action); null: any.', example: ['products:read', 'orders:*'] });

/** Each limit field's schema; every one but the two lists takes null for unlimited. */
export const limitFieldSchemas = {
  keyRateLimits: planRateLimitsSchema,
  workspaceRateLimits: planRateLimitsSchema,
  monthlyCalls: monthlyAmountSchema,
  monthlyCredits: monthlyAmountSchema,
  maxKeys: countLimitSchema,
  maxWebhookEndpoints: countLimitSchema,
  grantableScopes: grantableScopesSchema,
  logRetentionDays: retentionDaysSchema,
} as const satisfies Record<(typeof LIMIT_FIELDS)[number], z.ZodType>;

/** Every field of a plan but its id and name, each optional: what create defaults and update may change. */
const planFields = {
  keyRateLimits: planRateLimitsSchema.optional(),
  workspaceRateLimits: planRateLimitsSchema.optional(),
  monthlyCalls: monthlyAmountSchema.optional(),
  monthlyCredits: monthlyAmountSchema.optional(),
  maxKeys: countLimitSchema.optional(),
  maxWebhookEndpoints: countLimitSchema.optional(),
  grantableScopes: grantableScopesSchema.optional(),
  logRetentionDays: retentionDaysSchema.optional(),
  default: z.boolean({ error: 'expected true or false' }).optional(),
};

export const createPlanInput = closedObject({ id: planIdSchema, name: planNameSchema, ...planFields });
export type CreatePlanInput = z.output<typeof createPlanInput>;

/** A plan's fields to change; the id names the plan and cannot change (workspaces refer to it). */
export const updatePlanFields = closedObject({ name: planNameSchema.optional(), ...planFields });
export type UpdatePlanFields = z.output<typeof updatePlanFields>;

/**
 * A workspace's exceptions to its plan: only the limit fields, each replacing the plan's (null
 * lifts it). An unknown name is refused by name (`overrides.maxKey: unknown field`).
 */
export const overridesSchema = closedObject({
  keyRateLimits: planRateLimitsSchema.nullable().optional(),
  workspaceRateLimits: planRateLimitsSchema.nullable().optional(),
  monthlyCalls: monthlyAmountSchema.optional(),
  monthlyCredits: monthlyAmountSchema.optional(),
  maxKeys: countLimitSchema.optional(),
  maxWebhookEndpoints: countLimitSchema.optional(),
  grantableScopes: grantableScopesSchema.optional(),
  logRetentionDays: retentionDaysSchema.optional(),
});
export type OverridesInput = z.output<typeof overridesSchema>;
