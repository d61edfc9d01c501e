import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

/**
 * A customer-portal sign-in link minted by the provider's backend for one person of one workspace.
 * Only SHA-256 of the link's random token is stored (like keys); it opens at most one session
 * (`usedAt`), before `expiresAt`. The person it names is carried by the session it opens
 * (ui_session.portal_link), so the session, `session.me` and the audit log know who acts.
 */
export const PortalLink = defineEntity({
  name: 'PortalLink',
  tableName: 'portal_link',
  indexes: [{ properties: ['userId'] }, { properties: ['expiresAt'] }],
  properties: {
    tokenHash: p.string().primary().length(64),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    /** The provider's own id of the person: revoking by it ends every session it opened. */
    userId: p.string().length(128),
    userEmail: p.string().length(320),
    userName: p.string().length(200),
    /** `admin` or `read-only`: the preset the session's principal holds. Never `operator`. */
    role: p.string().length(16),
    returnUrl: p.string().length(2048).nullable(),
    /** The operator key that minted it (its id, for the record). */
    createdBy: p.string().length(128),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
  },
});
export type IPortalLink = InferEntity<typeof PortalLink>;
