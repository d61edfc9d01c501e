import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Ids, algorithm and durations only: no key material ever enters workflow history. */
export interface SigningKeyRotationInput {
  /** `ES256` (default) or `EdDSA`. */
  alg?: 'ES256' | 'EdDSA';
  /** How long the next key is published before it signs: at least one JWKS cache lifetime. */
  publishMs: number;
  /** How long the retired key stays published: the longest token lifetime, plus clock skew. */
  graceMs: number;
}

export interface SigningKeyRotationResult {
  kid: string;
  retired: string[];
  /** False when the next key was revoked while it waited: the active key is unchanged. */
  promoted: boolean;
}

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // A rotation must finish eventually: retry without a cap, backing off to once a minute.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * One rotation of the OAuth signing keys, the grace pattern of key rotation: the next key is
 * published (next) → after one JWKS cache lifetime it signs (active) and the previous key is
 * retired → once every token the retired key signed has expired it leaves the JWKS. Every step
 * is idempotent, so a retried activity or a restarted worker never makes two keys.
 */
export async function signingKeyRotationWorkflow(input: SigningKeyRotationInput): Promise<SigningKeyRotationResult> {
  await acts.ensureActiveSigningKey();
  const next = await acts.createNextSigningKey({ alg: input.alg ?? 'ES256' });
  await sleep(input.publishMs);
  const promotion = await acts.promoteSigningKey({ kid: next.kid, graceMs: input.graceMs });
  if (promotion.retired.length > 0) {
    await sleep(input.graceMs);
    await acts.unpublishRetiredSigningKeys();
  }
  return { kid: next.kid, retired: promotion.retired, promoted: promotion.promoted };
}
