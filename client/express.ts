// `import { gatehouse } from 'gatehouse/express'`: protects an Express API with Gatehouse keys or
// Gatehouse-issued OAuth access tokens and reports every response's status and latency back to
// Gatehouse. Depends on express types, jose and Gatehouse's pure permission evaluator only.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parsePermissionExprCached } from '../core/keys/permission-expr.js';
import { bearerVerifier, type TokenVerdict } from './bearer.js';

export interface GatehouseOptions {
  /** Base URL of the Gatehouse server, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Your service's Gatehouse key: needs `keys:verify` and `usage:write`. Never the caller's key. */
  apiKey: string;
  /** Permission (or expression such as `a AND b`) the caller's key must hold; per request when a function. */
  permission?: string | ((req: Request) => string | undefined);
  /** Credits to charge per request (default 1; Gatehouse's default when omitted). */
  cost?: number | ((req: Request) => number | undefined);
  /** How often usage reports are sent (default 1 s). */
  flushIntervalMs?: number;
  /** Reports per POST /v1/usage (default 500, at most 1,000). */
  batchSize?: number;
  /** Reports held while Gatehouse is unreachable; beyond this the oldest are dropped (default 10,000). */
  maxBuffer?: number;
  /** Give up on a verification after this long and answer 503 (default 5 s). */
  timeoutMs?: number;
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

/** What a verified request carries for the handlers after the middleware: `res.locals.gatehouse`. */
export interface GatehouseVerification {
  valid: boolean;
  code: string;
  key_id: string | null;
  permissions: string[];
  /** `scope` says whose limit: the key's own (or its plan's per-key ceiling), or one shared by the workspace's keys. */
  ratelimit: { scope: 'key' | 'workspace'; name: string; limit: number; remaining: number; reset: number } | null;
  /** The workspace's monthly call quota (`monthly_calls`) or credit grant (`monthly_credits`); null without a plan setting one. */
  quota: { scope: 'workspace'; name: 'monthly_calls' | 'monthly_credits'; limit: number; remaining: number; reset: number } | null;
  credits: number | null;
  expires_at: string | null;
  /** Access tokens only: the workspace the token's key belongs to (the `workspace_id` claim). */
  workspace_id?: string | null;
}

export interface UsageReport {
  key_id: string | null;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  time: string;
  code: string | null;
}

export interface GatehouseMiddleware extends RequestHandler {
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

interface RouteLayer {
  route?: { path: unknown; _handlesMethod?: (method: string) => boolean };
  match?: (path: string) => unknown;
}

/**
 * The pattern of the app route a request was (or would have been) handled by. A request the
 * middleware refused never reached a route, so the app's top-level routes are matched against
 * its path; routes inside nested routers are found only once routed.
 */
function routePattern(req: Request): string {
  const routed = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routed === 'string') return pattern(`${req.baseUrl ?? ''}${routed}`);
  try {
    const stack = (req.app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack ?? [];
    const path = new URL(req.originalUrl, 'http://local').pathname;
    for (const layer of stack) {
      if (!layer.route || typeof layer.route.path !== 'string' || !layer.match?.(path)) continue;
      if (layer.route._handlesMethod && !layer.route._handlesMethod(req.method)) continue;
      return pattern(layer.route.path);
    }
  } catch {
    // Express internals changed shape: fall through to "unmatched" rather than record a raw path.
  }
  return '(unmatched)';
}

/** `/products/:id` → `/products/{id}`, the style Gatehouse records routes in. */
const pattern = (p: string) => p.replace(/:(\w+)/g, '{$1}') || '/';

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as the IPv4 address allowlists are written in. */
function clientIp(req: Request): string | undefined {
  const ip = req.ip;
  if (!ip) return undefined;
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
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

function rateLimitHeaders(res: Response, rl: GatehouseVerification['ratelimit'], limited: boolean) {
  if (!rl) return;
  const resetSeconds = Math.max(0, Math.ceil((rl.reset - Date.now()) / 1000));
  res.setHeader('RateLimit-Limit', String(rl.limit));
  res.setHeader('RateLimit-Remaining', String(Math.max(0, rl.remaining)));
  res.setHeader('RateLimit-Reset', String(resetSeconds));
  if (limited) res.setHeader('Retry-After', String(Math.max(1, resetSeconds)));
}

/** `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235). */
function bearerToken(req: Request): string | undefined {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

/** A token's verdict in the shape handlers read from `res.locals.gatehouse`: no limits were consulted. */
function fromToken(t: TokenVerdict): GatehouseVerification {
  return {
    valid: t.code === 'VALID',
    code: t.code,
    key_id: t.keyId,
    permissions: t.permissions,
    ratelimit: null,
    quota: null,
    credits: null,
    expires_at: t.expiresAt,
    workspace_id: t.workspaceId,
  };
}

/**
 * Express middleware: verifies the request's `x-api-key` with Gatehouse (`POST /v1/keys/verify`),
 * answers 401/403/429 itself (RateLimit-* headers included), lets valid requests through with
 * the verification in `res.locals.gatehouse`, and reports each response's status and latency to
 * `POST /v1/usage` in batches. Gatehouse unreachable: 503, never an open door.
 *
 * With `audience` set it also accepts `Authorization: Bearer <access token>` (when no `x-api-key`
 * is sent): the token's signature, `iss`, `aud`, `typ` and expiry are checked against Gatehouse's
 * cached JWKS without a round trip, and the permission against its `scope`. Rate limits, quotas
 * and credits were applied when the token was issued, not per request.
 */
export function gatehouse(opts: GatehouseOptions): GatehouseMiddleware {
  const base = opts.url.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const batchSize = Math.min(opts.batchSize ?? 500, 1_000);
  const maxBuffer = opts.maxBuffer ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const onError = opts.onError ?? (() => {});
  let buffer: UsageReport[] = [];
  let sending: Promise<void> | undefined;

  const headers = { 'content-type': 'application/json', 'x-api-key': opts.apiKey, 'x-gatehouse-reports-usage': '1' };

  async function send(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, batchSize);
      let res: globalThis.Response;
      try {
        res = await doFetch(`${base}/v1/usage`, { method: 'POST', headers, body: JSON.stringify({ records: batch }), signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        onError(new Error(`gatehouse: usage report failed: ${(err as Error).message}`));
        return; // kept for the next tick
      }
      buffer = buffer.slice(batch.length);
      if (res.status === 207) {
        const body = (await res.json().catch(() => null)) as { rejected?: number; errors?: { message: string }[] } | null;
        onError(new Error(`gatehouse: ${body?.rejected ?? '?'} usage reports rejected: ${body?.errors?.[0]?.message ?? 'see the response'}`));
      } else if (!res.ok) {
        await res.body?.cancel();
        onError(new Error(`gatehouse: usage report answered ${res.status}`));
        // A refusal (bad key, missing usage:write) will not fix itself by retrying: drop the batch.
        if (res.status >= 500) {
          buffer = [...batch, ...buffer].slice(0, maxBuffer);
          return;
        }
      } else {
        await res.body?.cancel();
      }
    }
  }

  function flush(): Promise<void> {
    sending ??= send().finally(() => {
      sending = undefined;
    });
    return sending;
  }

  function report(r: UsageReport) {
    if (buffer.length >= maxBuffer) buffer.shift();
    buffer.push(r);
    if (buffer.length >= batchSize) void flush();
  }

  async function verifyKey(req: Request, secret: string, permission: string | undefined): Promise<GatehouseVerification> {
    const cost = typeof opts.cost === 'function' ? opts.cost(req) : opts.cost;
    const r = await doFetch(`${base}/v1/keys/verify`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ key: secret, ...(permission ? { permission } : {}), ...(cost !== undefined ? { cost } : {}), ...(clientIp(req) ? { ip: clientIp(req) } : {}) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!r.ok) {
      await r.body?.cancel();
      throw new Error(`verification answered ${r.status}`);
    }
    return (await r.json()) as GatehouseVerification;
  }

  const verifyToken =
    opts.audience === undefined
      ? undefined
      : bearerVerifier({ url: base, issuer: opts.issuer ?? base, audience: opts.audience, introspect: opts.introspect ?? false, apiKey: opts.apiKey, timeoutMs, fetch: doFetch });

  const timer = setInterval(() => void flush(), opts.flushIntervalMs ?? 1_000);
  timer.unref();

  const middleware = (async (req: Request, res: Response, next: NextFunction) => {
    const start = performance.now();
    let keyId: string | null = null;
    let code: string | null = null;
    res.on('finish', () => {
      report({
        key_id: keyId,
        method: req.method,
        route: routePattern(req).slice(0, 200),
        status: res.statusCode,
        latency_ms: Math.round((performance.now() - start) * 100) / 100,
        time: new Date().toISOString(),
        code,
      });
    });

    const secret = req.get('x-api-key')?.trim();
    const token = secret ? undefined : bearerToken(req);
    if (!secret && !(token && verifyToken)) {
      const message = verifyToken ? 'Missing credentials: send an API key in x-api-key or an access token in Authorization: Bearer' : 'Missing API key: send it in the x-api-key header';
      if (verifyToken) res.setHeader('WWW-Authenticate', 'Bearer');
      res.status(401).json({ error: { code: 'unauthorized', message } });
      return;
    }
    const permission = typeof opts.permission === 'function' ? opts.permission(req) : opts.permission;
    let v: GatehouseVerification;
    try {
      v = token ? fromToken(await verifyToken!(token, permission ? parsePermissionExprCached(permission) : undefined)) : await verifyKey(req, secret!, permission);
    } catch (err) {
      onError(new Error(`gatehouse: ${(err as Error).message}`));
      res.status(503).json({ error: { code: 'unavailable', message: token ? 'Access tokens cannot be checked right now; try again shortly' : 'API keys cannot be checked right now; try again shortly' } });
      return;
    }
    keyId = v.key_id;
    code = v.code;
    if (!v.valid) {
      const status = STATUS[v.code] ?? 401;
      if (token) {
        res.setHeader('WWW-Authenticate', `Bearer error="${status === 403 ? 'insufficient_scope' : 'invalid_token'}"`);
        res.status(status).json({ error: { code: v.code.toLowerCase(), message: TOKEN_MESSAGES[v.code] ?? 'Access token refused' } });
        return;
      }
      const { message, limit } = refusal(v);
      rateLimitHeaders(res, v.ratelimit, status === 429);
      // Over a monthly allowance: retry when the month turns.
      if (limit && v.code === 'USAGE_EXCEEDED') res.setHeader('Retry-After', String(Math.max(1, Math.ceil((limit.reset - Date.now()) / 1000))));
      res.status(status).json({ error: { code: v.code.toLowerCase(), message, ...(limit ? { limit } : {}) } });
      return;
    }
    rateLimitHeaders(res, v.ratelimit, false);
    res.locals['gatehouse'] = v;
    next();
  }) as GatehouseMiddleware;

  middleware.flush = flush;
  middleware.close = async () => {
    clearInterval(timer);
    await flush();
  };
  return middleware;
}
