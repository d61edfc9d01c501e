import { randomFillSync } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import type { KeyRecord } from '../keys/key-record.js';
import type { KeyVerifier } from '../keys/verifier.js';
import { hasScope, OPERATOR_SCOPES } from '../permissions.js';
import type { KeyRing } from './cache.js';
import { invalidScope, invalidTarget, unauthorizedClient } from './errors.js';
import { loadKeyRing } from './ring.js';
import { signCompactBatched } from './sign-batch.js';
import { loadWorkspaceOAuth } from './settings.js';
import { SIGNING_ALGS, type SigningAlg } from './signing-keys.js';

/** RFC 9068's media type for JWT access tokens, pinned in every token's header and checked on every verification. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface TokenDeps {
  verifier: KeyVerifier;
  /** A fresh EntityManager for the loads the cache misses. */
  em: () => EntityManager;
  /** GATEHOUSE_SECRET_KEY, to open the sealed private key. */
  secretKey?: string;
}

export function keyRing(deps: TokenDeps, kid?: string): Promise<KeyRing> {
  const load = () => loadKeyRing({ em: deps.em(), secretKey: deps.secretKey });
  return kid === undefined ? deps.verifier.oauth.keyRing(load) : deps.verifier.oauth.keyRingWithKid(kid, load);
}

/** A scope list as RFC 6749 §3.3 writes it: space-delimited tokens of printable ASCII without `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The scopes a token gets: the key's own (presets expanded), or the subset `requested` names,
 * never more. The provider's scopes (`operator`, `limits:approve`) are never granted to a token,
 * even to a key holding them: a token is for the provider's own API, where they mean nothing,
 * and a leaked token must not reach Gatehouse's operator plane.
 */
export function grantScopes(record: Pick<KeyRecord, 'scopes'>, requested: string | undefined): readonly string[] {
  const grantable = grantableScopes(record.scopes);
  if (requested === undefined || requested.trim() === '') return grantable;
  const asked = [...new Set(requested.split(' ').filter(Boolean))];
  for (const s of asked) {
    if (!SCOPE_TOKEN.test(s)) throw invalidScope(`scope: '${s.slice(0, 64)}' is not a valid scope token`);
    if (OPERATOR_SCOPES.has(s) || !hasScope(grantable, s)) throw invalidScope(`scope: the key does not hold '${s.slice(0, 64)}'`);
  }
  return asked;
}

/** A key's scopes a token may carry, sorted; kept per scope set (a cached key's record keeps its set), as every token request of a key asks the same. */
const grantableBySet = new WeakMap<ReadonlySet<string>, readonly string[]>();
function grantableScopes(scopes: ReadonlySet<string>): readonly string[] {
  let grantable = grantableBySet.get(scopes);
  if (grantable === undefined) grantableBySet.set(scopes, (grantable = Object.freeze([...scopes].filter((s) => !OPERATOR_SCOPES.has(s)).sort())));
  return grantable;
}

/**
 * `aud`: the audience asked for when the workspace allows it; with none asked, the workspace's
 * first allowed audience, else the issuer itself (a token meant for no service in particular).
 */
export function resolveAudience(allowed: readonly string[], requested: string | undefined, issuer: string): string {
  if (requested === undefined) return allowed[0] ?? issuer;
  if (!allowed.includes(requested)) {
    throw invalidTarget(
      allowed.length === 0
        ? 'audience: this workspace allows no audience to be requested'
        : `audience: '${requested.slice(0, 256)}' is not one of the workspace's allowed audiences`,
    );
  }
  return requested;
}

export interface IssueInput {
  /** The authenticated client's key. */
  record: KeyRecord;
  scope?: string;
  /** `audience`, or RFC 8707's `resource`. */
  audience?: string;
  issuer: string;
}

export interface IssuedToken {
  accessToken: string;
  /** Seconds. */
  expiresIn: number;
  scope: string;
}

/** Signs an access token for a key that has already authenticated and passed its limits. */
export async function issueAccessToken(deps: TokenDeps, input: IssueInput): Promise<IssuedToken> {
  const { record } = input;
  const scopes = grantScopes(record, input.scope);
  const oauth = deps.verifier.oauth;
  let settings = oauth.freshWorkspace(record.workspaceId);
  let ring = oauth.freshRing();
  if (settings === undefined || ring === undefined) {
    [settings, ring] = await Promise.all([settings ?? oauth.workspace(record.workspaceId, () => loadWorkspaceOAuth(deps.em(), record.workspaceId)), ring ?? keyRing(deps)]);
  }
  const audience = resolveAudience(settings.audiences, input.audience, input.issuer);
  const signer = ring.signer;
  if (!signer) throw new Error('no active OAuth signing key');
  const now = Math.floor(Date.now() / 1000);
  // Never past the key's own expiry, nor past the end of the grace of the secret that asked.
  const exp = record.expiresAt === null ? now + settings.tokenTtlSeconds : Math.min(now + settings.tokenTtlSeconds, Math.floor(record.expiresAt / 1000));
  if (exp <= now) throw unauthorizedClient('the key expires now');
  const scope = scopes.join(' ');
  const accessToken = await signCompactBatched(
    { alg: signer.alg, kid: signer.kid, typ: ACCESS_TOKEN_TYP },
    { iss: input.issuer, sub: record.id, aud: audience, exp, iat: now, jti: newJti(record.secretRotation), client_id: record.clientId, scope, workspace_id: record.workspaceId },
    signer.key,
  );
  return { accessToken, expiresIn: exp - now, scope };
}

/**
 * `<rotation>.<128 random bits>`: opaque to clients, but it names which of the key's secrets asked
 * (its rotation count), so ending that secret's grace early ends its tokens too.
 */
function newJti(secretRotation: number): string {
  return `${secretRotation}.${random128()}`;
}

/**
 * 128 random bits as base64url, taken from a pool filled 4 KiB at a time (as crypto.randomUUID
 * does): a call into the CSPRNG per token cost more than the rest of its claims. Each bit is used once.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function random128(): string {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  poolAt += 16;
  return pool.toString('base64url', poolAt - 16, poolAt);
}

const JTI = /^(\d{1,9})\.[A-Za-z0-9_-]{22}$/;

/** The claims of a token Gatehouse signed (RFC 9068 plus `workspace_id`). */
export interface AccessClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  workspace_id: string;
}

/** Codes as `POST /v1/keys/verify` answers for keys: a revoked token or key is NOT_FOUND, as a revoked key is. */
export type TokenVerdict =
  | { code: 'VALID'; claims: AccessClaims; keyPk: string; keyExpiresAt: number | null }
  | { code: 'NOT_FOUND' | 'DISABLED' | 'EXPIRED'; claims: AccessClaims | null; keyPk: string | null; keyExpiresAt: number | null };

const NOT_FOUND: TokenVerdict = Object.freeze({ code: 'NOT_FOUND', claims: null, keyPk: null, keyExpiresAt: null });

/** Three base64url segments: what a JWT looks like, as opposed to a key's secret. */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);
}

function claimsOf(payload: JWTPayload): AccessClaims | undefined {
  const { iss, sub, aud, exp, iat, jti } = payload;
  const { client_id, scope, workspace_id } = payload as Record<string, unknown>;
  if (typeof iss !== 'string' || typeof sub !== 'string' || typeof aud !== 'string' || typeof exp !== 'number' || typeof iat !== 'number' || typeof jti !== 'string') return undefined;
  if (typeof client_id !== 'string' || typeof scope !== 'string' || typeof workspace_id !== 'string') return undefined;
  return { iss, sub, aud, exp, iat, jti, client_id, scope, workspace_id };
}

/**
 * Checks a token the way introspection and `/v1/keys/verify` need: the signature against a
 * published key, with the algorithm pinned to that key's (so `alg: none`, HS256 with the public
 * key as secret, or a key of another type never verify), `typ: at+jwt`, the expiry, and then, in
 * PostgreSQL, the token's revocation, its key's state and that of the secret that asked for it. Reading the database on every check is
 * what makes a revocation (of the token or its key) seen by every process at once.
 */
export async function checkAccessToken(deps: TokenDeps, token: string): Promise<TokenVerdict> {
  if (token.length > 8192 || !looksLikeJwt(token)) return NOT_FOUND;
  let kid: string | undefined;
  let alg: string | undefined;
  try {
    ({ kid, alg } = decodeProtectedHeader(token));
  } catch {
    return NOT_FOUND;
  }
  if (typeof kid !== 'string' || !SIGNING_ALGS.includes(alg as SigningAlg)) return NOT_FOUND;
  const key = (await keyRing(deps, kid)).verifiers.get(kid);
  if (!key || key.alg !== alg) return NOT_FOUND;
  let claims: AccessClaims | undefined;
  let expired = false;
  try {
    const verified = await jwtVerify(token, key.key, { algorithms: [key.alg], typ: ACCESS_TOKEN_TYP });
    claims = claimsOf(verified.payload);
  } catch (err) {
    // The signature is checked before the claims: an expired token here is one Gatehouse signed.
    if (!(err instanceof errors.JWTExpired)) return NOT_FOUND;
    claims = claimsOf(err.payload);
    expired = true;
  }
  const rotation = claims && JTI.exec(claims.jti)?.[1];
  if (!claims || rotation === undefined) return NOT_FOUND;

  const row = await typedDb(deps.em())
    .selectFrom('api_key as k')
    .select(['k.pk', 'k.id', 'k.workspace_id', 'k.enabled', 'k.revoked_at', 'k.expires_at'])
    .select((eb) => [
      eb.exists(eb.selectFrom('oauth_token_revocation as r').select('r.jti').where('r.jti', '=', claims.jti)).as('token_revoked'),
      // The secret that asked for the token: revoked (a rotation's grace ended, even early), its tokens end with it.
      eb
        .exists(eb.selectFrom('api_key_secret as s').select('s.hash').whereRef('s.api_key_pk', '=', 'k.pk').where('s.rotation', '=', Number(rotation)).where('s.revoked_at', 'is', null))
        .as('secret_live'),
    ])
    .where('k.client_id', '=', claims.client_id)
    .executeTakeFirst();
  if (!row || row.id !== claims.sub || row.workspace_id !== claims.workspace_id || row.revoked_at || row.token_revoked || !row.secret_live) {
    return { ...NOT_FOUND, claims };
  }
  const keyExpiresAt = row.expires_at ? new Date(row.expires_at).getTime() : null;
  const base = { claims, keyPk: row.pk, keyExpiresAt };
  if (!row.enabled) return { code: 'DISABLED', ...base };
  if (expired || (keyExpiresAt !== null && keyExpiresAt <= Date.now())) return { code: 'EXPIRED', ...base };
  return { code: 'VALID', ...base };
}

/**
 * RFC 7009: remembers the token's jti until the token expires (after that it is refused anyway),
 * and forgets revocations whose tokens have expired since.
 */
export async function revokeAccessToken(em: EntityManager, claims: AccessClaims, keyPk: string): Promise<void> {
  const db = typedDb(em);
  await db
    .insertInto('oauth_token_revocation')
    .values({ jti: claims.jti, api_key_pk: keyPk, expires_at: new Date(claims.exp * 1000), revoked_at: sql<Date>`now()` })
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
  await db.deleteFrom('oauth_token_revocation').where('expires_at', '<', sql<Date>`now() - interval '1 minute'`).execute();
}
