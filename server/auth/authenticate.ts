import type { EntityManager } from '@mikro-orm/postgresql';
import { toRecord, type KeyRecord, type KeyRow } from '../../core/keys/key-record.js';
import { typedDb } from '../../db/kysely.js';
import { hashSecret } from '../../core/keys/secret.js';
import { KeyVerifier } from '../../core/keys/verifier.js';
import { isActive } from '../../core/keys/verify.js';
import type { Principal } from './principal.js';
import type { RateLimit } from '../../db/entities/api-key.js';
import type { IpAllowlist } from '../../core/keys/ip-allowlist.js';

/**
 * Resolves a secret to the key it belongs to, or undefined for any reason it may not be used
 * (unknown, disabled, revoked, expired, retired by a rotation).
 *
 * Requests pass the process's KeyVerifier: the same checksum gate, cache and change listener as
 * `POST /v1/keys/verify`, so authenticating a request costs no query once the key is cached and a
 * revoke is seen by every process at once. Given an EntityManager instead (tools, tests), it reads
 * PostgreSQL directly with the same query and the same rules. Either way the look-up is by hash,
 * so no comparison runs on a value the caller can steer byte by byte.
 */
export function authenticate(source: KeyVerifier | EntityManager, secret: string, pepper?: string): Principal | undefined | Promise<Principal | undefined> {
  if (!(source instanceof KeyVerifier)) return authenticateWithEm(source, secret, pepper);
  // Answered without a promise when the key is cached: the verify path's every request (BENCHMARKS.md).
  const found = source.lookup(secret);
  return found instanceof Promise ? found.then((record) => principalOf(source, record, secret, pepper)) : principalOf(source, found, secret, pepper);
}

async function authenticateWithEm(em: EntityManager, secret: string, pepper?: string): Promise<Principal | undefined> {
  if (secret.length < 16 || secret.length > 256) return undefined;
  const row = await keyByHash(em, hashSecret(secret, pepper));
  return principalOf(em, row ? toRecord(row) : undefined, secret, pepper);
}

function principalOf(source: KeyVerifier | EntityManager, record: KeyRecord | undefined, secret: string, pepper: string | undefined): Principal | undefined {
  if (!record || !isActive(record)) return undefined;
  if (source instanceof KeyVerifier) source.touches.touch(record.pk);
  return new KeyPrincipal(record, source, secret, pepper);
}

/**
 * A key's principal. `recheck` resolves the same secret again, which it holds in a private field:
 * nothing that serialises or spreads a principal (a logger, an error, an audit actor) reaches it.
 * A class rather than an object with the secret bound into its recheck: making the bound function
 * and the object cost ~300 ns a request, the class ~10 ns, and every verification authenticates its
 * caller so (BENCHMARKS.md, "The verify path without promises").
 */
class KeyPrincipal implements Principal {
  readonly workspaceId: string;
  readonly keyPk: string;
  readonly keyId: string;
  readonly scopes: ReadonlySet<string>;
  readonly rateLimits: readonly RateLimit[];
  readonly allowlist: IpAllowlist | undefined;
  readonly #source: KeyVerifier | EntityManager;
  readonly #secret: string;
  readonly #pepper: string | undefined;

  constructor(record: KeyRecord, source: KeyVerifier | EntityManager, secret: string, pepper: string | undefined) {
    this.workspaceId = record.workspaceId;
    this.keyPk = record.pk;
    this.keyId = record.id;
    this.scopes = record.scopes;
    this.rateLimits = record.rateLimits;
    this.allowlist = record.hasAllowlist ? record.allowlist : undefined;
    this.#source = source;
    this.#secret = secret;
    this.#pepper = pepper;
  }

  recheck(): Principal | undefined | Promise<Principal | undefined> {
    const source = this.#source;
    return source instanceof KeyVerifier ? authenticate(source, this.#secret, this.#pepper) : recheckWithFork(source, this.#secret, this.#pepper);
  }
}

/** A principal authenticated through an EntityManager is checked again on a fresh fork of it. */
function recheckWithFork(em: EntityManager, secret: string, pepper: string | undefined): Promise<Principal | undefined> {
  return authenticateWithEm(em.fork() as EntityManager, secret, pepper);
}

/**
 * KEY_BY_HASH_SQL (core/keys/key-record.ts) through the typed builder: the verifier keeps the raw
 * statement on its own pool for the hot path; sign-in and tools read the same columns here.
 */
async function keyByHash(em: EntityManager, hash: string): Promise<KeyRow | undefined> {
  return typedDb(em)
    .selectFrom('api_key_secret as s')
    .innerJoin('api_key as k', 'k.pk', 's.api_key_pk')
    .select((eb) => [
      'k.pk',
      'k.id',
      'k.client_id',
      'k.workspace_id',
      'k.permissions',
      'k.rate_limits',
      eb('k.credits_remaining', 'is not', null).$castTo<boolean>().as('metered'),
      'k.enabled',
      eb('k.revoked_at', 'is not', null).$castTo<boolean>().as('key_revoked'),
      eb('s.revoked_at', 'is not', null).$castTo<boolean>().as('secret_revoked'),
      'k.expires_at',
      's.expires_at as secret_expires_at',
      's.rotation as secret_rotation',
      'k.ip_allowlist',
    ])
    .where('s.hash', '=', hash)
    .executeTakeFirst();
}
