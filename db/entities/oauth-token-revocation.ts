import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ApiKey } from './api-key.js';

/**
 * An access token revoked before it expired (RFC 7009). Kept only until the token's own `exp`:
 * after that the token is refused anyway.
 */
export const OauthTokenRevocation = defineEntity({
  name: 'OauthTokenRevocation',
  tableName: 'oauth_token_revocation',
  indexes: [{ properties: ['expiresAt'] }],
  properties: {
    jti: p.string().primary().length(64),
    apiKey: () => p.manyToOne(ApiKey).deleteRule('cascade'),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IOauthTokenRevocation = InferEntity<typeof OauthTokenRevocation>;
