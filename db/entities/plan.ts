import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A limit and its window, without a name: plans speak of ceilings and shared limits by window. */
export interface PlanRateLimit {
  limit: number;
  windowSeconds: number;
}

/**
 * What a provider sells a customer: ceilings on each key's rate limits, rate limits and a monthly
 * call quota shared by all of the workspace's keys, a monthly credit grant, how many keys and
 * webhook endpoints it may have, which customer scopes it may grant and how long its logs are
 * kept. Null means unlimited. Only operators see or change plans (core/plans/).
 */
export const Plan = defineEntity({
  name: 'Plan',
  tableName: 'plan',
  properties: {
    id: p.string().primary().length(64),
    name: p.string().length(200),
    keyRateLimits: p.json<PlanRateLimit[]>(),
    workspaceRateLimits: p.json<PlanRateLimit[]>(),
    monthlyCalls: p.bigint('number').nullable(),
    monthlyCredits: p.bigint('number').nullable(),
    maxKeys: p.integer().nullable(),
    maxWebhookEndpoints: p.integer().nullable(),
    /** Customer scopes (`products:*`, `orders:read`) the workspace may grant; null = any. */
    grantableScopes: p.json<string[]>().nullable(),
    logRetentionDays: p.integer().nullable(),
    /** New workspaces get the default plan; setting one clears the others in the same transaction. */
    isDefault: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type IPlan = InferEntity<typeof Plan>;
