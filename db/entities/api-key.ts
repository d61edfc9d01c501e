import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

export interface RateLimit {
  /** Names a limit so warnings and headers can say which one tripped. */
  name: string;
  limit: number;
  windowSeconds: number;
}

export type RefillInterval = 'daily' | 'monthly';

export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_key',
  uniques: [{ properties: ['workspace', 'id'] }],
  /** Lists page newest first on (created_at, pk). */
  indexes: [{ properties: ['workspace', 'createdAt', 'pk'] }],
  properties: {
    /** Internal surrogate; callers only ever see `id`, which is unique per workspace. */
    pk: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    id: p.string().length(128),
    /** The key's OAuth client id (client-credentials grant): public, unique across workspaces. */
    clientId: p.string().length(40).unique(),
    name: p.string().length(200).default(''),
    environment: p.string().length(8).default('live'),
    permissions: p.json<string[]>(),
    rateLimits: p.json<RateLimit[]>(),
    creditsRemaining: p.integer().nullable(),
    creditsRefillAmount: p.integer().nullable(),
    creditsRefillInterval: p.string().length(8).nullable(),
    creditsRefilledAt: p.datetime().nullable(),
    expiresAt: p.datetime().nullable(),
    ipAllowlist: p.json<string[]>(),
    rotationPolicyDays: p.integer().nullable(),
    metadata: p.json<Record<string, unknown>>(),
    enabled: p.boolean().default(true),
    /** Masked start of the current secret (`gate_sk_live_Ab3x***`), the only part kept in clear. */
    start: p.string().length(40),
    rotationCount: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
    lastRotatedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});
export type IApiKey = InferEntity<typeof ApiKey>;
