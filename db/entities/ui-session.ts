import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';
import { PortalLink } from './portal-link.js';

/**
 * A signed-in admin UI session. The cookie holds a random token; only its hash is stored. It names
 * the key and the secret it was opened with, so revoking the key or retiring that secret ends it.
 * A customer-portal session has no key: it names the sign-in link that opened it instead, whose
 * person, workspace and role it acts as (server/auth/portal-session.ts).
 */
export const UiSession = defineEntity({
  name: 'UiSession',
  tableName: 'ui_session',
  properties: {
    tokenHash: p.string().primary().length(64),
    apiKey: () => p.manyToOne(ApiKey).nullable().deleteRule('cascade').index(),
    /** `api_key_secret.hash` of the secret used to sign in (a hash, not a secret). */
    secretHash: p.string().length(64).nullable(),
    /** Set on portal sessions only: the link that opened it (and so the person). */
    portalLink: () => p.manyToOne(PortalLink).nullable().deleteRule('cascade').index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
  },
});
export type IUiSession = InferEntity<typeof UiSession>;
