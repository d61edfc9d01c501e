// The Bearer side of `gatehouse/express`: an OAuth access token issued by Gatehouse's
// `POST /oauth/token`, checked offline against the published JWKS, or online by introspection.
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { expandPermissions } from './scopes.js';
import { satisfies, type PermissionExpr } from './permission-expr.js';

/** The algorithms Gatehouse signs with; anything else (`none`, HS256 with the public key) is refused. */
const ALGORITHMS = ['ES256', 'EdDSA'];
/** Seconds of clock difference between Gatehouse and this service tolerated on `exp`/`nbf`/`iat`. */
const CLOCK_TOLERANCE_S = 5;
/**
 * A caller sends the same token on every request until it expires: its verified claims are kept
 * (the exact token string as the key) so the signature is checked once, not per request. An
 * entry is trusted no longer than the token's own `exp` and at most a minute, so a signing key
 * withdrawn from the JWKS stops being trusted at most a minute after the JWKS cache refreshes. Bounded.
 */
const VERIFIED_TTL_MS = 60_000;
/** Gatehouse serves its JWKS with `Cache-Control: max-age=300`. */
const JWKS_MAX_AGE_MS = 300_000;
const VERIFIED_MAX = 10_000;

/** What a token check found: a verdict the middleware answers like a key's. */
export interface TokenVerdict {
  code: 'VALID' | 'NOT_FOUND' | 'EXPIRED' | 'INSUFFICIENT_PERMISSIONS';
  keyId: string | null;
  permissions: string[];
  workspaceId: string | null;
  expiresAt: string | null;
}

export interface BearerVerifierOptions {
  /** Gatehouse's base URL as this service reaches it: the JWKS and introspection are fetched from it. */
  url: string;
  /** The `iss` tokens must carry: Gatehouse's public URL. */
  issuer: string;
  /** The `aud` tokens must name: this service. */
  audience: string | string[];
  /** Online: ask `POST /oauth/introspect` on every request instead of checking the signature here. */
  introspect: boolean;
  /** This service's key (`keys:verify`), sent to introspection. */
  apiKey: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/**
 * A verdict, synchronously for a token already verified (the common case: a caller reuses its
 * token), else a promise; it rejects (the middleware answers 503) when Gatehouse cannot be asked.
 */
export type BearerVerifier = ((token: string, required: PermissionExpr | undefined) => TokenVerdict | Promise<TokenVerdict>) & {
  /** The verdict for a token verified before and still trusted, else undefined (nothing is fetched). */
  cached?: (token: string, required: PermissionExpr | undefined) => TokenVerdict | undefined;
};

/**
 * jose errors that mean "the keys could not be fetched" rather than "this token is bad": an
 * unreachable JWKS must not turn every caller away as unauthenticated, nor let anyone in.
 */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true; // fetch's own network errors
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

/** A token's claims as every request with it needs them: parsed and expanded once. */
interface Checked {
  keyId: string | null;
  permissions: string[];
  granted: ReadonlySet<string>;
  workspaceId: string | null;
  expiresAt: string | null;
}

function checked(claims: JWTPayload): Checked {
  const permissions = typeof claims['scope'] === 'string' ? claims['scope'].split(' ').filter(Boolean) : [];
  return {
    keyId: typeof claims.sub === 'string' ? claims.sub : null,
    permissions,
    granted: new Set(expandPermissions(permissions)),
    workspaceId: typeof claims['workspace_id'] === 'string' ? claims['workspace_id'] : null,
    expiresAt: typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : null,
  };
}

function verdict(c: Checked, required: PermissionExpr | undefined): TokenVerdict {
  const allowed = !required || satisfies(required, c.granted);
  return { code: allowed ? 'VALID' : 'INSUFFICIENT_PERMISSIONS', keyId: c.keyId, permissions: c.permissions, workspaceId: c.workspaceId, expiresAt: c.expiresAt };
}

const refused = (code: 'NOT_FOUND' | 'EXPIRED'): TokenVerdict => ({ code, keyId: null, permissions: [], workspaceId: null, expiresAt: null });

/**
 * The cache's key: the token's last characters, inside its signature, so each request hashes 32
 * characters rather than the whole token; a hit is trusted only if the whole token is equal.
 */
const cacheKey = (token: string) => token.slice(-32);

export function bearerVerifier(opts: BearerVerifierOptions): BearerVerifier {
  const audiences = Array.isArray(opts.audience) ? opts.audience : [opts.audience];
  if (opts.introspect) return introspector(opts, audiences);

  // Cached; an unknown `kid` (a freshly rotated key) refetches at most once per cooldown, so a flood
  // of forged kids costs Gatehouse one request every 30 s.
  const jwks = createRemoteJWKSet(new URL(`${opts.url}/.well-known/jwks.json`), {
    // The JWKS's own max-age: a signing key the operator revokes leaves this cache as it leaves Gatehouse's.
    cacheMaxAge: JWKS_MAX_AGE_MS,
    timeoutDuration: opts.timeoutMs,
    [customFetch]: opts.fetch,
  });
  /** `last`: the verdict for the permission last asked with this token (routes ask the same one, by identity: parsed once). */
  const verified = new Map<string, Checked & { token: string; until: number; last?: { required: PermissionExpr | undefined; verdict: TokenVerdict } }>();
  const verify = async (token: string, required: PermissionExpr | undefined): Promise<TokenVerdict> => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: audiences,
        algorithms: ALGORITHMS,
        typ: 'at+jwt',
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
      });
      if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
      const c = checked(payload);
      verified.set(cacheKey(token), { ...c, token, until: Math.min(Date.now() + VERIFIED_TTL_MS, (payload.exp! + CLOCK_TOLERANCE_S) * 1000) });
      return verdict(c, required);
    } catch (err) {
      if (err instanceof errors.JWTExpired) return refused('EXPIRED');
      if (isUnavailable(err)) throw new Error(`access token keys unavailable: ${(err as Error).message}`, { cause: err });
      return refused('NOT_FOUND');
    }
  };
  /** A token verified before, still trusted: its verdict in the same tick, no promise made per request. */
  const cached = (token: string, required: PermissionExpr | undefined): TokenVerdict | undefined => {
    const key = cacheKey(token);
    const hit = verified.get(key);
    if (hit?.token !== token) return undefined;
    if (Date.now() >= hit.until) {
      verified.delete(key);
      return undefined;
    }
    let last = hit.last;
    if (last === undefined || last.required !== required) hit.last = last = { required, verdict: verdict(hit, required) };
    return last.verdict;
  };
  return Object.assign((token: string, required: PermissionExpr | undefined) => cached(token, required) ?? verify(token, required), { cached });
}

/** RFC 7662: Gatehouse says whether the token is active now, so a revocation is seen at once. */
function introspector(opts: BearerVerifierOptions, audiences: string[]): BearerVerifier {
  return async (token, required) => {
    let claims: JWTPayload & { active?: boolean };
    // A timer cleared once answered rather than AbortSignal.timeout, whose abort still fires (and
    // costs a DOMException) on every call long done: see @gatehouse/client's retrying-fetch.ts.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${opts.timeoutMs} ms`, 'TimeoutError')), opts.timeoutMs);
    try {
      const res = await opts.fetch(`${opts.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': opts.apiKey },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
        signal: controller.signal,
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`introspection answered ${res.status}`);
      }
      claims = (await res.json()) as typeof claims;
    } catch (err) {
      throw new Error(`introspection failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (claims.active !== true) return refused('NOT_FOUND');
    // Active means valid somewhere: it must still be meant for this service, from this issuer.
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== opts.issuer || !aud.some((a) => a !== undefined && audiences.includes(a))) return refused('NOT_FOUND');
    return verdict(checked(claims), required);
  };
}
