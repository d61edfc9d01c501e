import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export type SigningKeyState = 'next' | 'active' | 'retired' | 'revoked';

/**
 * A key that signs OAuth access tokens. The rotation workflow publishes a `next` key in the JWKS
 * before it signs anything, makes it `active`, and keeps the `retired` one published until every
 * token it signed has expired (`publishedUntil`). `revoked` is the operator's emergency stop: it
 * leaves the JWKS at once and its tokens stop verifying.
 */
export const SigningKey = defineEntity({
  name: 'SigningKey',
  tableName: 'signing_key',
  indexes: [{ properties: ['state'] }],
  properties: {
    kid: p.string().primary().length(64),
    /** `ES256` or `EdDSA`. */
    alg: p.string().length(8),
    publicJwk: p.json<Record<string, unknown>>(),
    /** The private JWK, sealed like webhook secrets (core/webhooks/secret-box.ts). */
    privateKeySealed: p.text().lazy(),
    state: p.string().length(12),
    createdAt: p.datetime().onCreate(() => new Date()),
    activatedAt: p.datetime().nullable(),
    retiredAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    /** A retired key leaves the JWKS after this: the last token it signed has expired by then. */
    publishedUntil: p.datetime().nullable(),
  },
});
export type ISigningKey = InferEntity<typeof SigningKey>;
