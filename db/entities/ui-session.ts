import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';

/**
 * A signed-in admin UI session. The cookie holds a random token; only its hash is stored. It names
 * the key and the secret it was opened with, so revoking the key or retiring that secret ends it.
 */
export const UiSession = defineEntity({
  name: 'UiSession',
  tableName: 'ui_session',
  properties: {
    tokenHash: p.string().primary().length(64),
    apiKey: () => p.manyToOne(ApiKey).deleteRule('cascade').index(),
    /** `api_key_secret.hash` of the secret used to sign in (a hash, not a secret). */
    secretHash: p.string().length(64),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
  },
});
export type IUiSession = InferEntity<typeof UiSession>;
