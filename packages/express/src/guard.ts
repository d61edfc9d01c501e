// The framework-neutral core of the middleware: given a request's credentials, asks Gatehouse and
// decides the answer (status, headers, body) or lets it through; reports usage in batches. The
// Express adapter (express.ts) and the WHATWG Request/Response one (fetch.ts) only translate.
import { createGatehouseRest, type UsageReport, type Verification } from '@gatehouse/client/rest';
import { bearerVerifier, type TokenVerdict } from './bearer.js';
import { parsePermissionExprCached } from './permission-expr.js';
import { usageReporter } from './usage-reporter.js';

export type { UsageReport };
/** What a request let through carries for its handler (`res.locals.gatehouse` in Express). */
export type GatehouseVerification = Verification;

export interface GuardOptions {
  /** Base URL of the Gatehouse server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Your service's Gatehouse key: needs `keys:verify` and `usage:write`. Never the caller's key. */
  apiKey: string;
  /** How often usage reports are sent (default 1 s). */
  flushIntervalMs?: number;
  /**
   * Reports per POST /v1/usage (default and most 5,000; fewer are sent each `flushIntervalMs`). A
   * busy service pays per round trip far more than per report, so the batches are large.
   */
  batchSize?: number;
  /** Reports held while Gatehouse is unreachable; beyond this the oldest batch is dropped whole (default 10,000). */
  maxBuffer?: number;
  /** Give up on a verification after this long (default 5 s). */
  timeoutMs?: number;
  /**
   * Keep a VALID verdict for this long and let the same key (same permission, cost and address)
   * through without asking again. Default 0: off. On, a key revoked, disabled or out of credits
   * is still let in until its cached verdict expires, and rate limits and credits are charged
   * once per period per key rather than per request; usage is still reported for every request.
   */
  cacheTtlMs?: number;
  /**
   * When Gatehouse cannot be asked (unreachable, timed out, answering 5xx): false (the default,
   * fail closed) answers 503; true (fail open) lets the request through unverified, with
   * `code: 'UNVERIFIED'` and no key id. Refusals Gatehouse does give are always applied.
   */
  failOpen?: boolean;
  /**
   * This service's name as tokens carry it in `aud` (one of the workspace's allowed audiences).
   * Set, `Authorization: Bearer <access token>` is accepted besides `x-api-key`; unset, keys only.
   */
  audience?: string | string[];
  /** The `iss` tokens must carry: Gatehouse's public URL (`PUBLIC_URL`); default `url`. */
  issuer?: string;
  /**
   * Check each token online with `POST /oauth/introspect` (a round trip per request, sees a
   * revocation at once) instead of offline against the cached JWKS (no round trip; a revoked
   * token is refused only once it expires). Default false.
   */
  introspect?: boolean;
  /** Failures of Gatehouse itself (verification unavailable, reports refused). Never receives a secret. */
  onError?: (err: Error) => void;
  fetch?: typeof fetch;
}

/** A request's credentials and what it asks for, read by an adapter from its framework's request. */
export interface GuardRequest {
  /** The `x-api-key` header. */
  apiKey?: string | null;
  /** The `Authorization` header. */
  authorization?: string | null;
  /** The caller's address, for the key's IP allowlist. */
  ip?: string;
  permission?: string;
  cost?: number;
  /**
   * `performance.now()` when the request arrived, where the adapter has read it anyway (for its
   * latency): the short cache's clock, so a cache hit reads no clock of its own.
   */
  now?: number;
}

export type Decision =
  | { allow: true; verification: GatehouseVerification; headers: Record<string, string> }
  | { allow: false; status: number; headers: Record<string, string>; body: { error: { code: string; message: string; limit?: object } }; keyId: string | null; code: string | null };

export interface Guard {
  /** Synchronous for an access token already verified (no round trip), else a promise. */
  check(req: GuardRequest): Decision | Promise<Decision>;
  report(r: UsageReport): void;
  /** Sends every buffered report now. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is left: call on shutdown. */
  close(): Promise<void>;
}

const STATUS: Record<string, number> = {
  NOT_FOUND: 401,
  DISABLED: 401,
  EXPIRED: 401,
  FORBIDDEN: 403,
  INSUFFICIENT_PERMISSIONS: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
};

/** A refused access token is answered with the key's codes, and RFC 6750's challenge. */
const TOKEN_MESSAGES: Record<string, string> = {
  NOT_FOUND: 'Invalid access token',
  EXPIRED: 'This access token has expired',
  INSUFFICIENT_PERMISSIONS: "This access token's scope lacks the permission this route needs",
};

const MESSAGES: Record<string, string> = {
  NOT_FOUND: 'Invalid API key',
  DISABLED: 'This API key is disabled',
  EXPIRED: 'This API key has expired',
  FORBIDDEN: 'This API key may not be used from this address',
  INSUFFICIENT_PERMISSIONS: 'This API key lacks the permission this route needs',
  RATE_LIMITED: 'Rate limit exceeded: see the RateLimit-* and Retry-After headers',
  USAGE_EXCEEDED: 'No credits left on this API key',
};

const CACHE_MAX = 10_000;
/** Verdicts kept per key: one per permission, cost and address it was used with, at most this many. */
const CACHE_PER_KEY = 16;

/** A VALID verdict for one key asked with one permission, cost and address. */
interface CacheEntry {
  permission: string | undefined;
  cost: number | undefined;
  ip: string | undefined;
  v: GatehouseVerification;
  decision: Decision;
  /** `performance.now()` it expires at: the monotonic clock, which a system clock change does not move. */
  until: number;
}

/**
 * A 429's message and `limit` object, naming the limit that refused: the key's rate limit, the
 * workspace's shared one, the workspace's monthly quota or credit grant, or the key's credits.
 */
function refusal(v: GatehouseVerification): { message: string; limit?: { scope: string; name: string; limit: number; remaining: number; reset: number } } {
  if (v.code === 'RATE_LIMITED' && v.ratelimit) {
    const rl = v.ratelimit;
    const whose = rl.scope === 'workspace' ? "this account's shared rate limit" : "this API key's rate limit";
    return { message: `Rate limit exceeded: ${whose} '${rl.name}' (${rl.limit} per window); see the RateLimit-* and Retry-After headers`, limit: rl };
  }
  // The quota is checked before the key's credits: a refusal by it leaves `credits` null.
  if (v.code === 'USAGE_EXCEEDED' && v.quota && v.credits === null) {
    const q = v.quota;
    const what = q.name === 'monthly_credits' ? 'monthly credit grant' : 'monthly call quota';
    return { message: `This account's ${what} (${q.limit}) is used up until ${new Date(q.reset).toISOString()}`, limit: q };
  }
  return { message: MESSAGES[v.code] ?? 'API key refused' };
}

/** Shared by every decision without headers: never written to. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function rateLimitHeaders(rl: GatehouseVerification['ratelimit'], limited: boolean): Record<string, string> {
  if (!rl) return limited ? {} : NO_HEADERS;
  const resetSeconds = Math.max(0, Math.ceil((rl.reset - Date.now()) / 1000));
  return {
    'RateLimit-Limit': String(rl.limit),
    'RateLimit-Remaining': String(Math.max(0, rl.remaining)),
    'RateLimit-Reset': String(resetSeconds),
    ...(limited ? { 'Retry-After': String(Math.max(1, resetSeconds)) } : {}),
  };
}

/** `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235). */
function bearerToken(authorization: string | null | undefined): string | undefined {
  return /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(authorization ?? '')?.[1];
}

/** A token's verdict in the shape handlers read: no limits were consulted. */
function fromToken(t: TokenVerdict): GatehouseVerification {
  return { valid: t.code === 'VALID', code: t.code, key_id: t.keyId, permissions: t.permissions, ratelimit: null, quota: null, credits: null, expires_at: t.expiresAt, workspace_id: t.workspaceId };
}

const UNVERIFIED: GatehouseVerification = { valid: true, code: 'UNVERIFIED', key_id: null, permissions: [], ratelimit: null, quota: null, credits: null, expires_at: null };

/**
 * Verifies `x-api-key` with Gatehouse (`POST /v1/keys/verify`); with `audience` set, also
 * `Authorization: Bearer <access token>` (when no key is sent): signature, `iss`, `aud`, `typ` and
 * expiry against Gatehouse's cached JWKS without a round trip, the permission against its
 * `scope`. Rate limits, quotas and credits were applied when the token was issued.
 */
export function createGuard(opts: GuardOptions): Guard {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const onError = opts.onError ?? (() => {});
  const doFetch = opts.fetch ?? fetch;
  // Verification is on the request's path: no retries, the caller's own client retries.
  const rest = createGatehouseRest({ url: base, apiKey: opts.apiKey, timeoutMs, retries: 0, fetch: doFetch, headers: { 'x-gatehouse-reports-usage': '1' } });
  const reporter = usageReporter(rest, {
    batchSize: Math.min(opts.batchSize ?? 5_000, 5_000),
    maxBuffer: opts.maxBuffer ?? 10_000,
    flushIntervalMs: opts.flushIntervalMs ?? 1_000,
    onError,
  });
  const cacheTtlMs = opts.cacheTtlMs ?? 0;
  const cache = new Map<string, CacheEntry[]>();
  const tokenDecisions = new WeakMap<TokenVerdict, Decision>();
  const verifyToken =
    opts.audience === undefined
      ? undefined
      : bearerVerifier({ url: base, issuer: opts.issuer ?? base, audience: opts.audience, introspect: opts.introspect ?? false, apiKey: opts.apiKey, timeoutMs, fetch: doFetch });

  async function verifyKey(key: string, req: GuardRequest): Promise<GatehouseVerification> {
    return rest.verify({ key, ...(req.permission ? { permission: req.permission } : {}), ...(req.cost !== undefined ? { cost: req.cost } : {}), ...(req.ip ? { ip: req.ip } : {}) });
  }

  /**
   * A key's check through the short cache: a hit is decided in the same tick (no promise, no
   * round trip), which is what makes the cached route cost about what an unprotected one does.
   * Only VALID verdicts are kept: a refusal is asked again, so a key enabled or topped up works at once.
   */
  function checkKey(key: string, req: GuardRequest): Decision | Promise<Decision> {
    if (cacheTtlMs <= 0) return verifyKey(key, req).then((v) => decide(v, false), (err: unknown) => unavailable(false, err));
    // Looked up by the key alone (a string the request already holds), then matched on what else
    // the verdict depended on: no string is built per request.
    const entries = cache.get(key);
    if (entries !== undefined) {
      const now = req.now ?? performance.now();
      for (const e of entries) {
        if (e.permission !== req.permission || e.cost !== req.cost || e.ip !== req.ip) continue;
        if (now < e.until) return e.v.ratelimit ? decide(e.v, false) : e.decision;
        entries.splice(entries.indexOf(e), 1);
        break;
      }
    }
    return verifyKey(key, req).then((v) => {
      const decision = decide(v, false);
      if (v.valid) remember(key, { permission: req.permission, cost: req.cost, ip: req.ip, v, decision, until: performance.now() + cacheTtlMs });
      return decision;
    }, (err: unknown) => unavailable(false, err));
  }

  function remember(key: string, entry: CacheEntry) {
    let entries = cache.get(key);
    if (entries === undefined) {
      // Bounded by keys: the first one in (the oldest) goes.
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(key, (entries = []));
    }
    const same = entries.findIndex((e) => e.permission === entry.permission && e.cost === entry.cost && e.ip === entry.ip);
    if (same >= 0) entries[same] = entry;
    else if (entries.length < CACHE_PER_KEY) entries.push(entry);
  }

  function unavailable(token: boolean, err: unknown): Decision {
    onError(new Error(`gatehouse: ${(err as Error).message}`));
    if (opts.failOpen) return { allow: true, verification: UNVERIFIED, headers: NO_HEADERS };
    const message = token ? 'Access tokens cannot be checked right now; try again shortly' : 'API keys cannot be checked right now; try again shortly';
    return { allow: false, status: 503, headers: NO_HEADERS, body: { error: { code: 'unavailable', message } }, keyId: null, code: null };
  }

  function decide(v: GatehouseVerification, token: boolean): Decision {
    if (v.valid) return { allow: true, verification: v, headers: rateLimitHeaders(v.ratelimit, false) };
    const status = STATUS[v.code] ?? 401;
    if (token) {
      const headers = { 'WWW-Authenticate': `Bearer error="${status === 403 ? 'insufficient_scope' : 'invalid_token'}"` };
      return { allow: false, status, headers, body: { error: { code: v.code.toLowerCase(), message: TOKEN_MESSAGES[v.code] ?? 'Access token refused' } }, keyId: v.key_id, code: v.code };
    }
    const { message, limit } = refusal(v);
    const headers = rateLimitHeaders(v.ratelimit, status === 429);
    // Over a monthly allowance: retry when the month turns.
    if (limit && v.code === 'USAGE_EXCEEDED') headers['Retry-After'] = String(Math.max(1, Math.ceil((limit.reset - Date.now()) / 1000)));
    return { allow: false, status, headers, body: { error: { code: v.code.toLowerCase(), message, ...(limit ? { limit } : {}) } }, keyId: v.key_id, code: v.code };
  }

  // Not async: a token already verified is decided in the same tick, with no promise made per
  // request (the offline path's cost is the route's); only a round trip returns one.
  function check(req: GuardRequest): Decision | Promise<Decision> {
    const key = req.apiKey?.trim();
    // A token this service has verified before is looked up as sent, before the header's pattern
    // is run over its several hundred characters: only a token that matched it can be in the cache.
    if (!key && verifyToken?.cached && req.authorization?.startsWith('Bearer ')) {
      const hit = verifyToken.cached(req.authorization.slice(7), req.permission ? parsePermissionExprCached(req.permission) : undefined);
      if (hit) return tokenDecision(hit);
    }
    const token = key ? undefined : bearerToken(req.authorization);
    if (!key && !(token && verifyToken)) {
      const message = verifyToken ? 'Missing credentials: send an API key in x-api-key or an access token in Authorization: Bearer' : 'Missing API key: send it in the x-api-key header';
      return { allow: false, status: 401, headers: verifyToken ? { 'WWW-Authenticate': 'Bearer' } : {}, body: { error: { code: 'unauthorized', message } }, keyId: null, code: null };
    }
    if (!token) return checkKey(key!, req);
    let t: TokenVerdict | Promise<TokenVerdict>;
    try {
      t = verifyToken!(token, req.permission ? parsePermissionExprCached(req.permission) : undefined);
    } catch (err) {
      return unavailable(true, err);
    }
    if (!(t instanceof Promise)) return tokenDecision(t);
    return t.then((tv) => decide(fromToken(tv), true), (err: unknown) => unavailable(true, err));
  }

  /** A cached token gives the same verdict object each time: decided once. */
  function tokenDecision(t: TokenVerdict): Decision {
    let d = tokenDecisions.get(t);
    if (d === undefined) tokenDecisions.set(t, (d = decide(fromToken(t), true)));
    return d;
  }

  return { check, report: reporter.report, flush: reporter.flush, close: reporter.close };
}
