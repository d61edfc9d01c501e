import type { EntityManager } from '@mikro-orm/postgresql';
import { KEY_BY_HASH_SQL, toRecord, type KeyRecord, type KeyRow } from '../../core/keys/key-record.js';
import { hashSecret } from '../../core/keys/secret.js';
import { KeyVerifier } from '../../core/keys/verifier.js';
import { isActive } from '../../core/keys/verify.js';
import type { Principal } from './principal.js';

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
export async function authenticate(source: KeyVerifier | EntityManager, secret: string, pepper?: string): Promise<Principal | undefined> {
  let record: KeyRecord | undefined;
  if (source instanceof KeyVerifier) {
    const found = source.lookup(secret);
    record = found instanceof Promise ? await found : found;
  } else {
    if (secret.length < 16 || secret.length > 256) return undefined;
    const rows = await source.execute<KeyRow[]>(KEY_BY_HASH_SQL.replace('$1', '?'), [hashSecret(secret, pepper)]);
    record = rows[0] ? toRecord(rows[0]) : undefined;
  }
  if (!record || !isActive(record)) return undefined;
  if (source instanceof KeyVerifier) source.touches.touch(record.pk);
  return {
    workspaceId: record.workspaceId,
    keyPk: record.pk,
    keyId: record.id,
    scopes: record.scopes,
    rateLimits: record.rateLimits,
    allowlist: record.hasAllowlist ? record.allowlist : undefined,
    // A closure rather than the secret itself on the principal: nothing that serialises a
    // principal (a logger, an error) can reach the secret through it.
    recheck: () => authenticate(source instanceof KeyVerifier ? source : (source.fork() as EntityManager), secret, pepper),
  };
}
