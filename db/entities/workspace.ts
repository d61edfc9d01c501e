import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Plan, type PlanRateLimit } from './plan.js';

/** Per-customer exceptions to its plan: each field present replaces the plan's (null = unlimited). */
export interface PlanOverrides {
  keyRateLimits?: PlanRateLimit[];
  workspaceRateLimits?: PlanRateLimit[];
  monthlyCalls?: number | null;
  monthlyCredits?: number | null;
  maxKeys?: number | null;
  maxWebhookEndpoints?: number | null;
  grantableScopes?: string[] | null;
  logRetentionDays?: number | null;
}

export const Workspace = defineEntity({
  name: 'Workspace',
  tableName: 'workspace',
  properties: {
    id: p.string().primary().length(64),
    name: p.string().length(200),
    /** Start of every secret this workspace issues, e.g. `gate` in `gate_sk_live_…`. */
    keyPrefix: p.string().length(16).default('gate'),
    /** No plan: nothing beyond each key's own limits (every workspace made before plans existed). */
    plan: () => p.manyToOne(Plan).nullable().deleteRule('restrict'),
    overrides: p.json<PlanOverrides>().default('{}'),
    /** Lifetime of the OAuth access tokens its keys obtain (default 15 min, at most 24 h). */
    oauthTokenTtlSeconds: p.integer().default(900),
    /** `audience`/`resource` values a token request may name (RFC 8707); empty: none may be asked for. */
    oauthAudiences: p.json<string[]>().default('[]'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IWorkspace = InferEntity<typeof Workspace>;
