import type { Response } from 'express';
import type { KeyVerifier } from '../../core/keys/verifier.js';
import { HttpError } from '../../core/errors.js';
import type { Principal } from './principal.js';

/**
 * Holds a calling key to its own rate limits on Gatehouse's API. Sets the IETF draft's
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) on every response when the
 * key has limits, and throws 429 with `Retry-After` once one is exhausted.
 */
export async function enforceCallerRateLimit(verifier: KeyVerifier, principal: Principal, res?: Response): Promise<void> {
  if (!principal.rateLimits || principal.rateLimits.length === 0) return;
  const { allowed, state } = await verifier.limiter.consume(principal.keyPk, principal.rateLimits);
  const resetSeconds = Math.max(1, Math.ceil((state.reset - Date.now()) / 1000));
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(resetSeconds),
  };
  if (allowed) {
    if (res && !res.headersSent) res.set(headers);
    return;
  }
  const refusal = new HttpError(
    429,
    'rate_limited',
    `This API key's rate limit '${state.name}' (${state.limit} per window) is exhausted; retry in ${resetSeconds} s`,
    undefined,
    { ...headers, 'Retry-After': String(resetSeconds) },
  );
  // tRPC writes only its error body: the headers (Retry-After) must be on the response already.
  if (res && !res.headersSent) res.set(refusal.headers);
  throw refusal;
}
