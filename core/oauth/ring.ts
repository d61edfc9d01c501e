import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { open } from '../webhooks/secret-box.js';
import type { KeyRing, RingKey, SignerKey } from './cache.js';
import { ensureActiveSigningKey, publishedSigningKeys, sealedKeyBinding, type SigningKeyDeps } from './signing-keys.js';

/**
 * Reads the published signing keys and opens the active one's private key. The first load of a
 * fresh install makes the first key: issuing never waits for the rotation Schedule's first run.
 */
export async function loadKeyRing(deps: SigningKeyDeps): Promise<KeyRing> {
  let keys = await publishedSigningKeys(deps.em);
  if (!keys.some((k) => k.state === 'active')) {
    await ensureActiveSigningKey(deps);
    keys = await publishedSigningKeys(deps.em);
  }
  const verifiers = new Map<string, RingKey>();
  let signer: SignerKey | undefined;
  let until = Number.POSITIVE_INFINITY;
  for (const k of keys) {
    verifiers.set(k.kid, { kid: k.kid, alg: k.alg, key: (await importJWK(k.publicJwk, k.alg)) as CryptoKey });
    if (k.publishedUntil) until = Math.min(until, k.publishedUntil.getTime());
    // The newest active key signs (two are active only for the instant of a revoke's replacement).
    if (k.state === 'active' && !signer && k.privateKeySealed) {
      const jwk = JSON.parse(await open(deps, k.privateKeySealed, sealedKeyBinding(k.kid))) as JWK;
      signer = { kid: k.kid, alg: k.alg, key: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }) };
    }
  }
  return { signer, verifiers, jwks: { keys: keys.map((k) => k.publicJwk) }, until };
}
