import type { EntityManager } from '@mikro-orm/postgresql';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { sql } from 'kysely';
import type { SigningKeyState } from '../../db/entities/signing-key.js';
import { typedDb, json, type Row } from '../../db/kysely.js';
import { recordAudit, type AuditActor } from '../audit.js';
import { notFound } from '../errors.js';
import { seal } from '../webhooks/secret-box.js';
import { notifyOAuthChanged, SIGNING_KEYS_CHANGED } from './notify.js';

/** Asymmetric only: a symmetric algorithm would let anyone holding the JWKS mint tokens. */
export const SIGNING_ALGS = ['ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export const DEFAULT_SIGNING_ALG: SigningAlg = 'ES256';

/** The longest token lifetime a workspace may set (24 h): how long a retired key stays published. */
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** Room for the clocks of the services that verify offline. */
export const CLOCK_SKEW_SECONDS = 60;
/** A retired key stays in the JWKS this long: every token it signed has expired by then. */
export const RETIRED_GRACE_MS = (MAX_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS) * 1000;
/** How long a client or a service may cache the JWKS (its Cache-Control max-age). */
export const JWKS_MAX_AGE_SECONDS = 300;
/** A next key is published this long before it signs: one JWKS cache lifetime, and as much again for caches that refreshed late. */
export const PUBLISH_BEFORE_SIGNING_MS = 2 * JWKS_MAX_AGE_SECONDS * 1000;

export interface SigningKeyDeps {
  em: EntityManager;
  /** GATEHOUSE_SECRET_KEY: private keys are sealed like webhook secrets. */
  secretKey?: string;
}

/** AAD of a sealed private key: bound to its kid and to this purpose, never mistaken for a webhook secret. */
export const sealedKeyBinding = (kid: string) => `oauth-signing-key:${kid}`;

/**
 * Serialises every change of the signing keys across processes (two API processes bootstrapping
 * at once, a rotation and an emergency revoke), inside the change's transaction.
 */
const LOCK_ID = 0x6f61757468; // "oauth"

type KeyRow = Omit<Row<'signing_key'>, 'private_key_sealed'>;

export interface SigningKeyView {
  kid: string;
  alg: SigningAlg;
  state: SigningKeyState;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
  revokedAt: string | null;
  publishedUntil: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function toSigningKeyView(row: KeyRow): SigningKeyView {
  return {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    state: row.state as SigningKeyState,
    createdAt: new Date(row.created_at).toISOString(),
    activatedAt: iso(row.activated_at),
    retiredAt: iso(row.retired_at),
    revokedAt: iso(row.revoked_at),
    publishedUntil: iso(row.published_until),
  };
}

const PUBLIC_COLUMNS = ['kid', 'alg', 'public_jwk', 'state', 'created_at', 'activated_at', 'retired_at', 'revoked_at', 'published_until'] as const;

async function lock(tx: EntityManager): Promise<void> {
  await typedDb(tx)
    .selectNoFrom((eb) => eb.fn<string>('pg_advisory_xact_lock', [eb.val(LOCK_ID)]).as('locked'))
    .execute();
}

/** A new key pair: the public JWK (kid = its RFC 7638 thumbprint) and the sealed private one. */
async function generate(deps: SigningKeyDeps, tx: EntityManager, alg: SigningAlg, state: SigningKeyState): Promise<KeyRow> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(pair.privateKey);
  const sealed = await seal({ em: tx, secretKey: deps.secretKey }, JSON.stringify(privateJwk), sealedKeyBinding(kid));
  const published: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  return typedDb(tx)
    .insertInto('signing_key')
    .values({
      kid,
      alg,
      public_jwk: json(published),
      private_key_sealed: sealed,
      state,
      created_at: sql<Date>`now()`,
      activated_at: state === 'active' ? sql<Date>`now()` : null,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Runs `fn` under the signing-key lock and tells every API process once it commits. */
function changing<T>(deps: SigningKeyDeps, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  return deps.em.transactional(async (tx) => {
    await lock(tx);
    const out = await fn(tx);
    await notifyOAuthChanged(tx, SIGNING_KEYS_CHANGED);
    return out;
  });
}

async function byState(tx: EntityManager, state: SigningKeyState): Promise<KeyRow[]> {
  return typedDb(tx).selectFrom('signing_key').select(PUBLIC_COLUMNS).where('state', '=', state).orderBy('created_at', 'desc').execute();
}

/** The active key, made if there is none (first start): idempotent, and safe from two processes at once. */
export async function ensureActiveSigningKey(deps: SigningKeyDeps, alg: SigningAlg = DEFAULT_SIGNING_ALG): Promise<SigningKeyView> {
  const [existing] = await byState(deps.em, 'active');
  if (existing) return toSigningKeyView(existing);
  return changing(deps, async (tx) => {
    const [active] = await byState(tx, 'active');
    return toSigningKeyView(active ?? (await generate(deps, tx, alg, 'active')));
  });
}

/** Rotation's first step: the next key, published but not yet signing. Returns the one already waiting, if any. */
export async function createNextSigningKey(deps: SigningKeyDeps, alg: SigningAlg = DEFAULT_SIGNING_ALG): Promise<SigningKeyView> {
  return changing(deps, async (tx) => {
    const [next] = await byState(tx, 'next');
    return toSigningKeyView(next ?? (await generate(deps, tx, alg, 'next')));
  });
}

export interface Promotion {
  /** False when the key was no longer `next` (revoked meanwhile): nothing changed. */
  promoted: boolean;
  retired: string[];
  /** When the retired keys leave the JWKS (ISO). */
  publishedUntil: string | null;
}

/**
 * Rotation's second step: `kid` signs from now on; the previous active key is retired and stays
 * published for `graceMs` (every token it signed expires within it). Idempotent: a retry after
 * the commit finds the key active and changes nothing.
 */
export async function promoteSigningKey(deps: SigningKeyDeps, kid: string, graceMs = RETIRED_GRACE_MS): Promise<Promotion> {
  return changing(deps, async (tx) => {
    const db = typedDb(tx);
    const row = await db.selectFrom('signing_key').select(['state']).where('kid', '=', kid).executeTakeFirst();
    if (row?.state !== 'next') return { promoted: row?.state === 'active', retired: [], publishedUntil: null };
    const until = new Date(Date.now() + graceMs);
    const retired = await db
      .updateTable('signing_key')
      .set({ state: 'retired', retired_at: sql<Date>`now()`, published_until: until })
      .where('state', '=', 'active')
      .returning('kid')
      .execute();
    await db.updateTable('signing_key').set({ state: 'active', activated_at: sql<Date>`now()` }).where('kid', '=', kid).execute();
    return { promoted: true, retired: retired.map((r) => r.kid), publishedUntil: until.toISOString() };
  });
}

/**
 * Rotation's last step: the retired keys' publication has ended (by time: the JWKS already leaves
 * them out); every process is told so it forgets them now rather than at its next reload.
 */
export async function unpublishRetiredSigningKeys(deps: SigningKeyDeps): Promise<string[]> {
  return changing(deps, async (tx) => {
    const rows = await typedDb(tx).selectFrom('signing_key').select('kid').where('state', '=', 'retired').where('published_until', '<=', sql<Date>`now()`).execute();
    return rows.map((r) => r.kid);
  });
}

/**
 * The operator's emergency stop: the key leaves the JWKS and its tokens stop verifying in every
 * process at once. Revoking the active key makes a new active key in the same transaction, so
 * issuing never stops. Revoking a revoked key changes nothing.
 */
export async function revokeSigningKey(deps: SigningKeyDeps, actor: AuditActor, kid: string): Promise<{ revoked: SigningKeyView; replacement: SigningKeyView | null }> {
  return changing(deps, async (tx) => {
    const db = typedDb(tx);
    const row = await db.selectFrom('signing_key').select(PUBLIC_COLUMNS).where('kid', '=', kid).executeTakeFirst();
    if (!row) throw notFound('Signing key', kid);
    if (row.state === 'revoked') return { revoked: toSigningKeyView(row), replacement: null };
    const revoked = await db
      .updateTable('signing_key')
      .set({ state: 'revoked', revoked_at: sql<Date>`now()` })
      .where('kid', '=', kid)
      .returning(PUBLIC_COLUMNS)
      .executeTakeFirstOrThrow();
    const replacement = row.state === 'active' ? await generate(deps, tx, row.alg as SigningAlg, 'active') : null;
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'signing_key.revoked',
      targetType: 'signing_key',
      targetId: kid,
      changes: { state: 'revoked', previous_state: row.state, ...(replacement ? { replacement_kid: replacement.kid } : {}) },
    });
    return { revoked: toSigningKeyView(revoked), replacement: replacement && toSigningKeyView(replacement) };
  });
}

/** Every signing key ever made, newest first (revoked and unpublished ones stay for the record). */
export async function listSigningKeys(em: EntityManager): Promise<SigningKeyView[]> {
  const rows = await typedDb(em).selectFrom('signing_key').select(PUBLIC_COLUMNS).orderBy('created_at', 'desc').execute();
  return rows.map(toSigningKeyView);
}

export interface PublishedKey {
  kid: string;
  alg: SigningAlg;
  state: SigningKeyState;
  publicJwk: JWK;
  publishedUntil: Date | null;
  /** Only for the active key. */
  privateKeySealed: string | null;
}

/** What the JWKS publishes: next, active, and retired keys still within their publication. */
export async function publishedSigningKeys(em: EntityManager): Promise<PublishedKey[]> {
  const rows = await typedDb(em)
    .selectFrom('signing_key')
    .select(['kid', 'alg', 'state', 'public_jwk', 'published_until'])
    .select((eb) => eb.case().when('state', '=', 'active').then(eb.ref('private_key_sealed')).else(null).end().as('private_key_sealed'))
    .where((eb) => eb.or([eb('state', 'in', ['next', 'active']), eb.and([eb('state', '=', 'retired'), eb('published_until', '>', sql<Date>`now()`)])]))
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg as SigningAlg,
    state: r.state as SigningKeyState,
    publicJwk: r.public_jwk as JWK,
    publishedUntil: r.published_until ? new Date(r.published_until) : null,
    privateKeySealed: r.private_key_sealed,
  }));
}
