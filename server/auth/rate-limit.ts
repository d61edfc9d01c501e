import type { ServerResponse } from 'node:http';
import type { KeyVerifier } from '../../core/keys/verifier.js';
import type { RateLimitState } from '../../core/keys/rate-limit.js';
import { HttpError } from '../../core/errors.js';
import type { Principal } from './principal.js';

export interface CallerLimitOptions {
  /**
   * The call is a verification or a usage report (SELF_COUNTING_ROUTES): the workspace's shared
   * limits are charged by the verification itself (or, for reports, by the verifications they
   * report), so charging the calling service's key against them too would count each call twice.
   */
  selfCounting?: boolean;
}

/**
 * Holds a calling key to its own rate limits on Gatehouse's API, and to its workspace's shared
 * ones (its plan's `workspace_rate_limits`, the same counters verification takes from). Sets the
 * IETF draft's `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) on every
 * response when there are limits, and throws 429 with `Retry-After` once one is exhausted, naming
 * the limit and whether it is the key's or the workspace's.
 *
 * The workspace's monthly quota is not applied here: it counts the provider's API traffic (the
 * verifications), and a customer over its quota must still be able to sign in and ask for more.
 */
/** Where the headers go: Express's response or the verify fast path's plain one. */
type HeaderSink = Pick<ServerResponse, 'setHeader' | 'headersSent'>;

export async function enforceCallerRateLimit(verifier: KeyVerifier, principal: Principal, res?: HeaderSink, opts: CallerLimitOptions = {}): Promise<void> {
  const own = principal.rateLimits ?? [];
  // An operator viewing as a customer spends its own workspace's room, never the customer's.
  const workspaceId = principal.viewAs?.operatorWorkspaceId ?? principal.workspaceId;
  let shared: readonly { name: string; limit: number; windowSeconds: number }[] = [];
  if (!opts.selfCounting) {
    const found = verifier.limits.get(workspaceId);
    shared = (found instanceof Promise ? await found : found).rateLimits;
  }
  if (own.length === 0 && shared.length === 0) return;

  let state: RateLimitState | undefined;
  let scope: 'key' | 'workspace' = 'key';
  let grants: Awaited<ReturnType<typeof verifier.limiter.consume>>['grants'];
  if (own.length > 0) {
    const decision = await verifier.limiter.consume(principal.keyPk, own);
    state = decision.state;
    if (!decision.allowed) refuse(state, 'key', res);
    grants = decision.grants;
  }
  if (shared.length > 0) {
    const decision = await verifier.workspaceLimiter.consume(workspaceId, shared);
    if (!decision.allowed) {
      if (grants) await verifier.limiter.release(grants);
      refuse(decision.state, 'workspace', res);
    }
    if (!state || decision.state.remaining < state.remaining) {
      state = decision.state;
      scope = 'workspace';
    }
  }
  if (res && !res.headersSent && state) setHeaders(res, { ...headersOf(state), 'RateLimit-Scope': scope });
}

function headersOf(state: RateLimitState): Record<string, string> {
  const resetSeconds = Math.max(1, Math.ceil((state.reset - Date.now()) / 1000));
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(resetSeconds),
  };
}

function setHeaders(res: HeaderSink, headers: Record<string, string>): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
}

function refuse(state: RateLimitState, scope: 'key' | 'workspace', res?: HeaderSink): never {
  const headers = headersOf(state);
  const retry = headers['RateLimit-Reset']!;
  const message =
    scope === 'key'
      ? `This API key's rate limit '${state.name}' (${state.limit} per window) is exhausted; retry in ${retry} s`
      : `This workspace's rate limit '${state.name}' (${state.limit} per window, shared by all its keys) is exhausted; retry in ${retry} s`;
  const refusal = new HttpError(429, 'rate_limited', message, undefined, { ...headers, 'RateLimit-Scope': scope, 'Retry-After': retry });
  // tRPC writes only its error body: the headers (Retry-After) must be on the response already.
  if (res && !res.headersSent) setHeaders(res, refusal.headers);
  throw refusal;
}
