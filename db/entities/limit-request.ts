import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';
import { Workspace } from './workspace.js';

export type LimitRequestStatus = 'pending' | 'approved' | 'declined' | 'expired';
/** A key's rate limit, the workspace's monthly call quota, or a change of plan. */
export type LimitRequestKind = 'key_limit' | 'workspace_quota' | 'plan';

/**
 * A customer's request for more, decided by the provider (a key holding `operator` or
 * `limits:approve`, never the workspace itself); a pending one expires at `expiresAt`.
 */
export const LimitRequest = defineEntity({
  name: 'LimitRequest',
  tableName: 'limit_request',
  indexes: [{ properties: ['workspace', 'status', 'createdAt'] }, { properties: ['status', 'createdAt'] }],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    kind: p.string().length(16).default('key_limit'),
    /** Set for `key_limit` only. */
    apiKey: () => p.manyToOne(ApiKey).nullable().deleteRule('cascade'),
    keyId: p.string().length(128).nullable(),
    /** The rate limit's name (`key_limit`); a new name adds a limit on approval. */
    limitName: p.string().length(64).nullable(),
    currentLimit: p.bigint('number').nullable(),
    /** The limit or monthly quota asked for; null for a plan change. */
    requestedLimit: p.bigint('number').nullable(),
    windowSeconds: p.integer().nullable(),
    /** The plan asked for (`plan`), or the plan in force when a quota was asked for. */
    requestedPlan: p.string().length(64).nullable(),
    reason: p.string().length(1000).default(''),
    status: p.string().length(16).default('pending'),
    requestedBy: p.string().length(128),
    decidedBy: p.string().length(128).nullable(),
    decidedAt: p.datetime().nullable(),
    decisionNote: p.string().length(1000).nullable(),
    /** What the operator granted when it differs from the request (another amount or plan). */
    approvedLimit: p.bigint('number').nullable(),
    approvedPlan: p.string().length(64).nullable(),
    expiresAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ILimitRequest = InferEntity<typeof LimitRequest>;
