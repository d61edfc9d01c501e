import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';
import { Workspace } from './workspace.js';

export type LimitRequestStatus = 'pending' | 'approved' | 'declined';

/** A request for a higher rate limit on one key; a key with `limits:approve` decides it. */
export const LimitRequest = defineEntity({
  name: 'LimitRequest',
  tableName: 'limit_request',
  indexes: [{ properties: ['workspace', 'status', 'createdAt'] }],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    apiKey: () => p.manyToOne(ApiKey).deleteRule('cascade'),
    keyId: p.string().length(128),
    /** The rate limit's name; a new name adds a limit on approval. */
    limitName: p.string().length(64),
    currentLimit: p.integer().nullable(),
    requestedLimit: p.integer(),
    windowSeconds: p.integer(),
    reason: p.string().length(1000).default(''),
    status: p.string().length(16).default('pending'),
    requestedBy: p.string().length(128),
    decidedBy: p.string().length(128).nullable(),
    decidedAt: p.datetime().nullable(),
    decisionNote: p.string().length(1000).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ILimitRequest = InferEntity<typeof LimitRequest>;
