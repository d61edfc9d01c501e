import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

/**
 * One change to a workspace's objects: who (a key, possibly of an operator's workspace), what,
 * to which object, when and from where. Targets are named by id, not by foreign key, so the
 * trail outlives a deleted key. `changes` names fields and their values, never a secret.
 */
export const AuditEntry = defineEntity({
  name: 'AuditEntry',
  tableName: 'audit_log',
  indexes: [{ properties: ['workspace', 'createdAt', 'id'] }, { properties: ['workspace', 'targetId', 'createdAt'] }],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    /** The acting key's workspace: differs from `workspace` when an operator acts on another tenant. */
    actorWorkspaceId: p.string().length(64).nullable(),
    actorKeyId: p.string().length(128).nullable(),
    /** The person's email when a customer-portal session acted (actorKeyId is then `user:<id>`). */
    actorEmail: p.string().length(320).nullable(),
    /** `key.created`, `key.updated`, `key.revoked`, `key.deleted`, `key.rotated`, `workspace.created`… */
    action: p.string().length(64),
    targetType: p.string().length(32),
    targetId: p.string().length(128),
    ip: p.string().length(64).default(''),
    changes: p.json<Record<string, unknown>>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IAuditEntry = InferEntity<typeof AuditEntry>;
