import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CookieOptions, Request, Response } from 'express';
import { frameAncestors, type Config } from '../../core/config.js';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import { expandPermissions, PRESETS } from '../../core/permissions.js';
import { hashSecret } from '../../core/keys/secret.js';
import { compileAllowlistSafe, normaliseRateLimits } from '../../core/keys/key-record.js';
import type { Principal } from './principal.js';
import { findPortalSession } from './portal-session.js';

/**
 * Admin UI sessions. Signing in exchanges an API key for a random token in an httpOnly cookie, so
 * the browser never keeps the key itself. The database holds only SHA-256(token), and each session
 * is tied to the key and to the very secret it was opened with: revoking or disabling the key, or
 * a rotation retiring that secret, ends the session on the next request.
 */
export const SESSION_COOKIE = 'gh_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/**
 * Cookie-authenticated requests that may change state must carry this header. A cross-site form or
 * `<img>` cannot set a custom header, and a cross-site `fetch` that sets one needs a CORS preflight,
 * which Gatehouse never grants: this closes CSRF, also when the cookie must be SameSite=None for framing.
 */
export const CSRF_HEADER = 'x-gatehouse-csrf';

/** Signing in to the UI needs at least everything the read-only preset can see. */
export const SIGN_IN_SCOPES: readonly string[] = PRESETS['read-only'];

const now = sql<Date>`now()`;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sessionToken(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      // 32 random bytes in base64url: anything else is not ours and needs no database look-up.
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export interface OpenedSession {
  token: string;
  expiresAt: Date;
}

/** Opens a session for a secret that already authenticated as `principal`. */
export async function openSession(em: EntityManager, principal: Principal, secret: string, pepper?: string): Promise<OpenedSession> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  // Expired rows are useless; sign-ins are rare enough to sweep them here.
  const db = typedDb(em);
  await db.deleteFrom('ui_session').where('expires_at', '<', now).execute();
  await db
    .insertInto('ui_session')
    .values({ token_hash: hashToken(token), api_key_pk: principal.keyPk, secret_hash: hashSecret(secret, pepper), created_at: now, expires_at: expiresAt })
    .execute();
  return { token, expiresAt };
}

export interface ActiveSession {
  principal: Principal;
  expiresAt: Date;
}

/** The session behind a token, if it, its key and its secret are all still good. */
export async function findSession(em: EntityManager, token: string): Promise<ActiveSession | undefined> {
  // The token names the workspace: the session's key is found through it, in whichever workspace it lives.
  const row = await typedDb(em)
    .selectFrom('ui_session')
    .innerJoin('api_key', 'api_key.pk', 'ui_session.api_key_pk')
    .innerJoin('api_key_secret', (join) => join.onRef('api_key_secret.hash', '=', 'ui_session.secret_hash').onRef('api_key_secret.api_key_pk', '=', 'api_key.pk'))
    .select(['api_key.pk', 'api_key.id', 'api_key.workspace_id', 'api_key.permissions', 'api_key.rate_limits', 'api_key.ip_allowlist', 'ui_session.expires_at'])
    .where('ui_session.token_hash', '=', hashToken(token))
    .where('ui_session.expires_at', '>', now)
    .where('api_key_secret.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('api_key_secret.expires_at', 'is', null), eb('api_key_secret.expires_at', '>', now)]))
    .where('api_key.enabled', '=', true)
    .where('api_key.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('api_key.expires_at', 'is', null), eb('api_key.expires_at', '>', now)]))
    .executeTakeFirst();
  // Not a key's session: perhaps a customer-portal one, opened by a sign-in link.
  if (!row) return findPortalSession(em, token);
  // A session is its key acting from a browser: the key's rate limits and IP allowlist hold for it too.
  const allowlist = Array.isArray(row.ip_allowlist) && row.ip_allowlist.length > 0 ? compileAllowlistSafe(row.ip_allowlist) : undefined;
  return {
    principal: {
      workspaceId: row.workspace_id,
      keyPk: row.pk,
      keyId: row.id,
      scopes: new Set(expandPermissions(row.permissions)),
      rateLimits: normaliseRateLimits(row.rate_limits),
      allowlist,
      recheck: async () => (await findSession(em.fork() as EntityManager, token))?.principal,
    },
    expiresAt: new Date(row.expires_at),
  };
}

export async function closeSession(em: EntityManager, token: string): Promise<void> {
  await typedDb(em).deleteFrom('ui_session').where('token_hash', '=', hashToken(token)).execute();
}

/** Safe methods carry no state change; anything else sent with the cookie must prove it came from the UI. */
export function passesCsrfCheck(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  return req.headers[CSRF_HEADER] === '1';
}

/**
 * The cookie's attributes, the same for setting and clearing it (a browser keeps a cookie cleared
 * with other attributes). With no framing configured it is SameSite=Strict. When the portal may be
 * framed, a cross-site frame in a browser blocking third-party cookies keeps only a partitioned one:
 * `Partitioned; Secure; SameSite=None`, stored under the framing site. Secure is then required (and
 * Chromium accepts it from http://localhost); CSRF stays closed by CSRF_HEADER, not by SameSite.
 */
function cookieOptions(req: Request, config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>): CookieOptions {
  // req.secure follows X-Forwarded-Proto only from a proxy GATEHOUSE_TRUST_PROXY trusts.
  if (frameAncestors(config).length === 0) return { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' };
  return { httpOnly: true, sameSite: 'none', secure: true, partitioned: true, path: '/' };
}

export function setSessionCookie(req: Request, res: Response, session: OpenedSession, config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>): void {
  res.cookie(SESSION_COOKIE, session.token, { ...cookieOptions(req, config), expires: session.expiresAt });
}

export function clearSessionCookie(req: Request, res: Response, config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(req, config));
}

/**
 * The principal of a cookie session, for requests without an x-api-key header: tRPC's, and REST's
 * from the UI's playground. `csrfOnReads` demands the CSRF header on GET too (REST): a REST read
 * answers JSON a page could otherwise try to pull in with the cookie alone (an old browser without
 * SameSite, a same-site subdomain), while the header can only be set by the UI's own scripts.
 */
export async function principalFromSession(req: Request, em: EntityManager, opts: { csrfOnReads?: boolean } = {}): Promise<Principal | undefined> {
  const token = sessionToken(req);
  if (!token) return undefined;
  if (opts.csrfOnReads ? req.headers[CSRF_HEADER] !== '1' : !passesCsrfCheck(req)) return undefined;
  return (await findSession(em, token))?.principal;
}
