import type { EntityManager } from '@mikro-orm/postgresql';
import { expandPermissions } from '../../core/permissions.js';
import { hashSecret } from '../../core/keys/secret.js';
import type { Principal } from './principal.js';

interface Row {
  pk: string;
  id: string;
  workspace_id: string;
  permissions: string[];
}

/**
 * Resolves a secret to the key it belongs to, or undefined for any reason it may not be used
 * (unknown, disabled, revoked, expired, retired by a rotation). The look-up is by hash, so the
 * comparison happens inside an index probe on a value the caller cannot steer byte by byte.
 */
export async function authenticate(em: EntityManager, secret: string, pepper?: string): Promise<Principal | undefined> {
  if (secret.length < 16 || secret.length > 256) return undefined;
  const rows = await em.execute<Row[]>(
    `select k.pk, k.id, k.workspace_id, k.permissions
       from api_key_secret s join api_key k on k.pk = s.api_key_pk
      where s.hash = ? and s.revoked_at is null and (s.expires_at is null or s.expires_at > now())
        and k.enabled and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())`,
    [hashSecret(secret, pepper)],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { workspaceId: row.workspace_id, keyPk: row.pk, keyId: row.id, scopes: new Set(expandPermissions(row.permissions)) };
}
