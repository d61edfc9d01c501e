import type { KeyVerifier } from '../../core/keys/verifier.js';
import type { RateLimitDecision, RateLimitState } from '../../core/keys/rate-limit.js';
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
/** Where the headers go: Express's response, or the verify fast path's list (server/fast-verify.ts). */
export interface HeaderSink {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
}

export function enforceCallerRateLimit(verifier: KeyVerifier, principal: Principal, res?: HeaderSink, opts: CallerLimitOptions = {}): void | Promise<void> {
  const own = principal.rateLimits ?? [];
  // An operator viewing as a customer spends its own workspace's room, never the customer's.
  const workspaceId = principal.viewAs?.operatorWorkspaceId ?? principal.workspaceId;
  if (opts.selfCounting) return limitCaller(verifier, principal.keyPk, workspaceId, own, [], res);
  const found = verifier.limits.get(workspaceId);
  return found instanceof Promise
    ? found.then((limits) => limitCaller(verifier, principal.keyPk, workspaceId, own, limits.rateLimits, res))
    : limitCaller(verifier, principal.keyPk, workspaceId, own, found.rateLimits, res);
}

type Limits = readonly { name: string; limit: number; windowSeconds: number }[];

/**
 * The key's own limits, then the workspace's. Without a promise while the key's counters are decided
 * from memory (its leases; core/keys/rate-limit.ts): every verification of a busy service key.
 */
function limitCaller(verifier: KeyVerifier, keyPk: string, workspaceId: string, own: Limits, shared: Limits, res: HeaderSink | undefined): void | Promise<void> {
  if (own.length === 0) return shared.length === 0 ? undefined : limitWorkspace(verifier, workspaceId, shared, undefined, undefined, res);
  const decision = verifier.limiter.consume(keyPk, own);
  return decision instanceof Promise ? decision.then((d) => afterOwn(verifier, workspaceId, shared, d, res)) : afterOwn(verifier, workspaceId, shared, decision, res);
}

function afterOwn(verifier: KeyVerifier, workspaceId: string, shared: Limits, decision: RateLimitDecision, res: HeaderSink | undefined): void | Promise<void> {
  if (!decision.allowed) refuse(decision.state, 'key', res);
  if (shared.length === 0) return setRateLimitHeaders(res, decision.state, 'key');
  return limitWorkspace(verifier, workspaceId, shared, decision.state, decision.grants, res);
}

async function limitWorkspace(
  verifier: KeyVerifier,
  workspaceId: string,
  shared: Limits,
  own: RateLimitState | undefined,
  grants: RateLimitDecision['grants'],
  res: HeaderSink | undefined,
): Promise<void> {
  const decision = await verifier.workspaceLimiter.consume(workspaceId, shared);
  if (!decision.allowed) {
    if (grants) await verifier.limiter.release(grants);
    refuse(decision.state, 'workspace', res);
  }
  // The headers tell the limit with the least room left.
  if (!own || decision.state.remaining < own.remaining) setRateLimitHeaders(res, decision.state, 'workspace');
  else setRateLimitHeaders(res, own, 'key');
}

function setRateLimitHeaders(res: HeaderSink | undefined, state: RateLimitState, scope: 'key' | 'workspace'): void {
  if (!res || res.headersSent) return;
  res.setHeader('RateLimit-Limit', String(state.limit));
  res.setHeader('RateLimit-Remaining', decimal(state.remaining));
  res.setHeader('RateLimit-Reset', String(resetSecondsOf(state)));
  res.setHeader('RateLimit-Scope', scope);
}

/**
 * An integer in decimal, outside V8's number-to-string cache. `String(n)` keeps each string it makes
 * in that cache until another number takes its slot; the remaining room is a new number on every
 * request, so each request's string outlived two young-generation collections there and was
 * promoted, to be freed only by a full one (8–12 MB a minute on the verify fast path, BENCHMARKS.md,
 * "Per-request strings that only a full collection freed").
 */
function decimal(n: number): string {
  return n.toFixed(0);
}

function resetSecondsOf(state: RateLimitState): number {
  return Math.max(1, Math.ceil((state.reset - Date.now()) / 1000));
}

function headersOf(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': decimal(state.remaining),
    'RateLimit-Reset': String(resetSecondsOf(state)),
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
