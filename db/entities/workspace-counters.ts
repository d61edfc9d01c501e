import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

/**
 * The workspace-wide rate limits' counters: rate_limit_counter's shape with the workspace in place
 * of the key, moved by the same sliding-window upsert (core/keys/rate-limit.ts). UNLOGGED for the
 * same reason (a write per verification; a crash forgives one window).
 */
export const WorkspaceRateCounter = defineEntity({
  name: 'WorkspaceRateCounter',
  tableName: 'workspace_rate_counter',
  indexes: [{ properties: ['expiresAt'] }],
  properties: {
    workspace: () => p.manyToOne(Workspace).primary().deleteRule('cascade'),
    name: p.string().length(64).primary(),
    windowStart: p.bigint('number').primary(),
    count: p.integer(),
    granted: p.integer(),
    expiresAt: p.bigint('number'),
  },
});
export type IWorkspaceRateCounter = InferEntity<typeof WorkspaceRateCounter>;

/**
 * A workspace's calls and credits in one UTC calendar month, counted at verification against its
 * plan's monthly quota and credit grant. Logged (unlike the rate counters): a crash must not give
 * a customer its month back. The *_at columns make each warning event fire once per month.
 */
export const WorkspaceQuota = defineEntity({
  name: 'WorkspaceQuota',
  tableName: 'workspace_quota',
  properties: {
    workspace: () => p.manyToOne(Workspace).primary().deleteRule('cascade'),
    /** First day of the month (UTC). */
    month: p.date().primary(),
    calls: p.bigint('number').default(0),
    credits: p.bigint('number').default(0),
    approachingAt: p.datetime().nullable(),
    exceededAt: p.datetime().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type IWorkspaceQuota = InferEntity<typeof WorkspaceQuota>;
