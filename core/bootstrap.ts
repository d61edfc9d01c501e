import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from './config.js';
import { newId } from './ids.js';
import { notifyKeyChanged } from './keys/notify.js';
import { generateSecret, hashSecret, maskSecret } from './keys/secret.js';

export interface BootstrapResult {
  /** Set only when this start created an admin key nobody has seen yet: print it once. */
  createdSecret?: string;
}

/**
 * Makes sure the default workspace exists and can be entered: with GATEHOUSE_BOOTSTRAP_KEY, a key
 * `bootstrap` holding exactly that secret (admin + operator); without it, a generated admin key on
 * the very first start. Safe to run from several processes at once.
 */
export async function bootstrap(em: EntityManager, config: Config): Promise<BootstrapResult> {
    const ws = config.GATEHOUSE_DEFAULT_WORKSPACE;
  await em.execute(
    `insert into workspace (id, name, key_prefix, created_at) values (?, ?, 'gate', now()) on conflict (id) do nothing`,
    [ws, 'Default workspace'],
  );
  const pepper = config.GATEHOUSE_KEY_PEPPER;

  if (config.GATEHOUSE_BOOTSTRAP_KEY) {
    const secret = config.GATEHOUSE_BOOTSTRAP_KEY;
    await em.transactional(async (tx) => {
            await tx.execute(
        `insert into api_key (pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
         values (?, ?, 'bootstrap', 'Bootstrap key (GATEHOUSE_BOOTSTRAP_KEY)', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())
         on conflict (workspace_id, id) do update
           set permissions = excluded.permissions, enabled = true, revoked_at = null, expires_at = null, start = excluded.start, updated_at = now()`,
        [newId('kid'), ws, JSON.stringify(['admin', 'operator']), maskSecret(secret)],
      );
      const [key] = await tx.execute<{ pk: string }[]>(`select pk from api_key where workspace_id = ? and id = 'bootstrap'`, [ws]);
      // The env var is the source of truth: any other secret this key had stops working.
      await tx.execute(`delete from api_key_secret where api_key_pk = ? and hash <> ?`, [key!.pk, hashSecret(secret, pepper)]);
      // Running API processes cache keys: tell them the old bootstrap secret is gone.
      await notifyKeyChanged(tx, key!.pk);
      await tx.execute(
        `insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())
         on conflict (hash) do update set revoked_at = null, expires_at = null`,
        [hashSecret(secret, pepper), key!.pk, maskSecret(secret)],
      );
    });
    return {};
  }

  const [{ n } = { n: '0' }] = await em.execute<{ n: string }[]>(
    `select count(*) as n from api_key where workspace_id = ? and revoked_at is null and permissions @> '["admin"]'::jsonb`,
    [ws],
  );
  if (Number(n) > 0) return {};
  const secret = generateSecret('gate', 'live');
  const pk = newId('kid');
  const inserted = await em.execute<{ pk: string }[]>(
    `insert into api_key (pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
     values (?, ?, 'admin', 'First admin key', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())
     on conflict (workspace_id, id) do nothing returning pk`,
    [pk, ws, JSON.stringify(['admin', 'operator']), maskSecret(secret)],
  );
  if (inserted.length === 0) return {};
  await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
    hashSecret(secret, pepper),
    pk,
    maskSecret(secret),
  ]);
  return { createdSecret: secret };
}
