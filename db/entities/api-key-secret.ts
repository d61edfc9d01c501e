import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';

/**
 * A key may hold two live secrets at once: the current one and, during a rotation's grace
 * period, the previous one. Only hashes are stored.
 */
export const ApiKeySecret = defineEntity({
  name: 'ApiKeySecret',
  tableName: 'api_key_secret',
  /** The sweeper looks for retired secrets past their grace that nobody revoked yet. */
  indexes: [{ name: 'api_key_secret_pending_expiry_index', properties: ['expiresAt'], where: '"revoked_at" is null and "expires_at" is not null' }],
  properties: {
    hash: p.string().primary().length(64),
    apiKey: () => p.manyToOne(ApiKey).deleteRule('cascade').index(),
    start: p.string().length(40),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Set when a rotation retires this secret: it works until then. */
    expiresAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    /** The key's rotation count when this secret was issued (0 = at creation). */
    rotation: p.integer().default(0),
  },
});
export type IApiKeySecret = InferEntity<typeof ApiKeySecret>;
