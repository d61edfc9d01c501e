import type { RateLimit } from '../../db/entities/api-key.js';
import type { PlanRateLimit } from '../../db/entities/plan.js';
import type { PlanOverrides } from '../../db/entities/workspace.js';

/** A plan's limits as they apply to one workspace: the plan's, each replaced by an override when one is set. Null = unlimited. */
export interface EffectiveLimits {
  planId: string | null;
  planName: string | null;
  keyRateLimits: PlanRateLimit[];
  workspaceRateLimits: PlanRateLimit[];
  monthlyCalls: number | null;
  monthlyCredits: number | null;
  maxKeys: number | null;
  maxWebhookEndpoints: number | null;
  grantableScopes: string[] | null;
  logRetentionDays: number | null;
}

/** The plan's limit fields, as the entity holds them (camelCase). */
export type PlanLimits = Omit<EffectiveLimits, 'planId' | 'planName'>;

export const LIMIT_FIELDS = [
  'keyRateLimits',
  'workspaceRateLimits',
  'monthlyCalls',
  'monthlyCredits',
  'maxKeys',
  'maxWebhookEndpoints',
  'grantableScopes',
  'logRetentionDays',
] as const satisfies readonly (keyof PlanLimits & keyof PlanOverrides)[];

/** A workspace with no plan: nothing beyond each key's own limits. */
export const UNLIMITED: EffectiveLimits = Object.freeze({
  planId: null,
  planName: null,
  keyRateLimits: [],
  workspaceRateLimits: [],
  monthlyCalls: null,
  monthlyCredits: null,
  maxKeys: null,
  maxWebhookEndpoints: null,
  grantableScopes: null,
  logRetentionDays: null,
}) as EffectiveLimits;

export function effectiveLimits(plan: ({ id: string; name: string } & PlanLimits) | null, overrides: PlanOverrides): EffectiveLimits {
  const out: EffectiveLimits = { ...UNLIMITED };
  if (plan) {
    out.planId = plan.id;
    out.planName = plan.name;
    for (const field of LIMIT_FIELDS) (out[field] as unknown) = plan[field];
  }
  for (const field of LIMIT_FIELDS) {
    if (!Object.hasOwn(overrides, field)) continue;
    // An override of null lifts the limit; for the two lists that is the empty list.
    (out[field] as unknown) = overrides[field] ?? (field === 'keyRateLimits' || field === 'workspaceRateLimits' ? [] : null);
  }
  return out;
}

/** `workspace:60s`: names a shared limit in refusals, headers and counters. */
export const workspaceLimitName = (l: PlanRateLimit): string => `workspace:${l.windowSeconds}s`;
/** `plan:60s`: a plan's per-key ceiling enforced on a key whose own limits do not already imply it. */
export const ceilingLimitName = (l: PlanRateLimit): string => `plan:${l.windowSeconds}s`;

/** The shared limits as the rate limiter takes them. */
export function workspaceRateLimits(limits: EffectiveLimits): RateLimit[] {
  return limits.workspaceRateLimits.map((l) => ({ name: workspaceLimitName(l), limit: l.limit, windowSeconds: l.windowSeconds }));
}

/**
 * Whether the key's own limits already hold it to `ceiling`: some limit of at most the ceiling's
 * window lets through no more than the ceiling in any of the ceiling's windows.
 */
export function implies(own: readonly RateLimit[], ceiling: PlanRateLimit): boolean {
  return own.some((l) => l.windowSeconds <= ceiling.windowSeconds && l.limit * Math.ceil(ceiling.windowSeconds / l.windowSeconds) <= ceiling.limit);
}

/**
 * What verification enforces on a key: its own limits plus each plan ceiling they do not imply, so a
 * key created without limits (or before the plan) is held to the plan all the same.
 */
export function effectiveKeyRateLimits(own: readonly RateLimit[], ceilings: readonly PlanRateLimit[]): RateLimit[] {
  if (ceilings.length === 0) return own as RateLimit[];
  const extra = ceilings.filter((c) => !implies(own, c)).map((c) => ({ name: ceilingLimitName(c), limit: c.limit, windowSeconds: c.windowSeconds }));
  return extra.length === 0 ? (own as RateLimit[]) : [...own, ...extra];
}

/**
 * The first of a key's own limits that goes beyond a ceiling, and which: a faster rate than the
 * ceiling over a window at least as long, or more calls than the ceiling in a shorter window.
 */
export function exceededCeiling(own: readonly RateLimit[], ceilings: readonly PlanRateLimit[]): { limit: RateLimit; ceiling: PlanRateLimit } | undefined {
  for (const limit of own) {
    for (const ceiling of ceilings) {
      const beyond =
        limit.windowSeconds >= ceiling.windowSeconds
          ? limit.limit * ceiling.windowSeconds > ceiling.limit * limit.windowSeconds
          : limit.limit > ceiling.limit;
      if (beyond) return { limit, ceiling };
    }
  }
  return undefined;
}

/** First day of the UTC month of `at`, and of the next one. */
export function monthBounds(at = Date.now()): { start: Date; end: Date } {
  const d = new Date(at);
  return { start: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)), end: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)) };
}
