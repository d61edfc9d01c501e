import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';

/**
 * One key's count for one rate limit in one fixed window; the sliding window weighs the previous
 * window's row. Written and read with SQL on the verify path (core/keys/rate-limit.ts); times are
 * epoch milliseconds, compared as numbers on every request.
 *
 * The table is UNLOGGED (no WAL write per verification; a crash forgives one window). MikroORM
 * 7.2 has no option for that and its schema diff never reads a table's persistence, so
 * `UNLOGGED_TABLES` says it and scripts/migration-check.ts compares it with the database.
 */
export const RateLimitCounter = defineEntity({
  name: 'RateLimitCounter',
  tableName: 'rate_limit_counter',
  /** The sweeper deletes expired windows. */
  indexes: [{ properties: ['expiresAt'] }],
  properties: {
    key: () => p.manyToOne(ApiKey).primary().deleteRule('cascade'),
    name: p.string().length(64).primary(),
    windowStart: p.bigint('number').primary(),
    count: p.integer(),
    granted: p.integer(),
    expiresAt: p.bigint('number'),
  },
});
export type IRateLimitCounter = InferEntity<typeof RateLimitCounter>;

/** Tables created UNLOGGED by their migration: a fact the entities cannot carry. */
export const UNLOGGED_TABLES: readonly string[] = ['rate_limit_counter', 'workspace_rate_counter'];
