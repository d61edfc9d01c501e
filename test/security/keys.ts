import { newId } from '../../core/ids.js';
import { generateSecret, hashSecret, maskSecret } from '../../core/keys/secret.js';
import type { Stack } from '../harness.js';

export interface KeyOptions {
  id: string;
  permissions: string[];
  ipAllowlist?: string[];
  rateLimits?: { name: string; limit: number; windowSeconds: number }[];
  /** The secret's prefix (default `gate`). */
  prefix?: string;
}

/** Another key in an existing workspace, straight in the database (as the harness makes its first). */
export async function addKey(stack: Stack, workspaceId: string, o: KeyOptions): Promise<string> {
  const secret = generateSecret(o.prefix ?? 'gate', 'live');
  const pk = newId('kid');
  const em = stack.orm.em.fork();
  await em.execute(
    `insert into api_key (client_id, pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
     values ('ci_' || replace(gen_random_uuid()::text, '-', ''), ?, ?, ?, 'test key', 'live', ?, ?, ?, '{}', true, ?, now(), now())`,
    [pk, workspaceId, o.id, JSON.stringify(o.permissions), JSON.stringify(o.rateLimits ?? []), JSON.stringify(o.ipAllowlist ?? []), maskSecret(secret)],
  );
  await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
    hashSecret(secret, stack.config.GATEHOUSE_KEY_PEPPER),
    pk,
    maskSecret(secret),
  ]);
  return secret;
}
