import { createLogger } from '../../core/log.js';
import { startKeyVerifier, type KeyVerifier } from '../../core/keys/verifier.js';
import { verifyKey, type VerifyResult } from '../../core/keys/verify.js';
import type { Stack } from '../harness.js';
import type { TestKey } from './keys.js';

/**
 * A verifier of its own on the stack's database: an API process as far as the shared counters can
 * tell. Stopping it gives back what it leased, so a test can read the counters exactly afterwards.
 */
export function ownVerifier(stack: Stack): Promise<KeyVerifier> {
  return startKeyVerifier({ databaseUrl: stack.databaseUrl, pepper: stack.config.GATEHOUSE_KEY_PEPPER, log: createLogger('silent') });
}

/** `total` verifications of `key` through `verifier`, `concurrency` at a time, in the order answered; the i-th costs `cost(i)`. */
export async function hammerVerifier(
  verifier: KeyVerifier,
  key: TestKey,
  total: number,
  concurrency: number,
  cost: (i: number) => number = () => 1,
): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const c = cost(next++);
        results.push(await verifyKey({ secret: key.secret, workspaceId: key.workspaceId, cost: c }, { verifier }));
      }
    }),
  );
  return results;
}
