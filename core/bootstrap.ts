import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAudit } from './audit.js';
import type { Config } from './config.js';
import { newId } from './ids.js';
import { notifyKeyChanged } from './keys/notify.js';
import { generateSecret, hashSecret, maskSecret } from './keys/secret.js';
import { createLogger, type Logger } from './log.js';
import { seedEventTypes } from './webhooks/event-types.js';

export interface BootstrapResult {
  /** Set only when this start created an admin key nobody has seen yet: print it once. */
  createdSecret?: string;
}

const BOOTSTRAP_KEY_ID = 'bootstrap';
const BOOTSTRAP_PERMISSIONS = ['admin', 'operator'];
/** Audit entries written by start-up name their source here; the actor is Gatehouse itself. */
const SOURCE = 'GATEHOUSE_BOOTSTRAP_KEY';

/**
 * Makes sure the default workspace exists and can be entered, and that the built-in event types
 * are the catalog's (`core/events/catalog.ts`): with GATEHOUSE_BOOTSTRAP_KEY, a key
 * `bootstrap` holding exactly that secret (admin + operator); without it, a generated admin key on
 * the very first start. Safe to run from several processes at once.
 *
 * Start-up never undoes what was done to the key through the API: a revoked, disabled or expired
 * bootstrap key stays so (every restart, including the supervisor's after a crash, runs this).
 */
export async function bootstrap(
  em: EntityManager,
  config: Config,
  log: Logger = createLogger(config.LOG_LEVEL, 'gatehouse-bootstrap'),
): Promise<BootstrapResult> {
  const ws = config.GATEHOUSE_DEFAULT_WORKSPACE;
  await em.execute(
    `insert into workspace (id, name, key_prefix, created_at) values (?, ?, 'gate', now()) on conflict (id) do nothing`,
    [ws, 'Default workspace'],
  );
  const brought = await seedEventTypes(em);
  if (brought > 0) log.info({ eventTypes: brought }, 'built-in event types written from the catalog');
  const pepper = config.GATEHOUSE_KEY_PEPPER;

  if (config.GATEHOUSE_BOOTSTRAP_KEY) {
    await ensureBootstrapKey(em, ws, config.GATEHOUSE_BOOTSTRAP_KEY, pepper, log);
    return {};
  }

  const [{ n } = { n: '0' }] = await em.execute<{ n: string }[]>(
    `select count(*) as n from api_key where workspace_id = ? and revoked_at is null and permissions @> '["admin"]'::jsonb`,
    [ws],
  );
  if (Number(n) > 0) return {};
  const secret = generateSecret('gate', 'live');
  const pk = newId('kid');
  const created = await em.transactional(async (tx) => {
    const inserted = await tx.execute<{ pk: string }[]>(
      `insert into api_key (pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
       values (?, ?, 'admin', 'First admin key', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())
       on conflict (workspace_id, id) do nothing returning pk`,
      [pk, ws, JSON.stringify(BOOTSTRAP_PERMISSIONS), maskSecret(secret)],
    );
    if (inserted.length === 0) return false;
    await tx.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
      hashSecret(secret, pepper),
      pk,
      maskSecret(secret),
    ]);
    await recordAudit(tx, null, {
      workspaceId: ws,
      action: 'key.created',
      targetType: 'api_key',
      targetId: 'admin',
      changes: { name: 'First admin key', environment: 'live', permissions: BOOTSTRAP_PERMISSIONS, source: 'first start' },
    });
    return true;
  });
  return created ? { createdSecret: secret } : {};
}

interface BootstrapKeyRow {
  pk: string;
  start: string;
  permissions: string[];
  enabled: boolean;
  revoked_at: Date | null;
  expires_at: Date | null;
}

/** Creates key `bootstrap` when missing; else brings its secret (and role) in line with the setting. */
async function ensureBootstrapKey(em: EntityManager, ws: string, secret: string, pepper: string | undefined, log: Logger): Promise<void> {
  const hash = hashSecret(secret, pepper);
  const start = maskSecret(secret);
  await em.transactional(async (tx) => {
    const inserted = await tx.execute<{ pk: string }[]>(
      `insert into api_key (pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
       values (?, ?, ?, 'Bootstrap key (GATEHOUSE_BOOTSTRAP_KEY)', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())
       on conflict (workspace_id, id) do nothing returning pk`,
      [newId('kid'), ws, BOOTSTRAP_KEY_ID, JSON.stringify(BOOTSTRAP_PERMISSIONS), start],
    );
    if (inserted[0]) {
      const pk = inserted[0].pk;
      await tx.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now()) on conflict (hash) do nothing`, [hash, pk, start]);
      await recordAudit(tx, null, {
        workspaceId: ws,
        action: 'key.created',
        targetType: 'api_key',
        targetId: BOOTSTRAP_KEY_ID,
        changes: { name: 'Bootstrap key (GATEHOUSE_BOOTSTRAP_KEY)', environment: 'live', permissions: BOOTSTRAP_PERMISSIONS, start, source: SOURCE },
      });
      // A verifier may hold a "no such secret" answer for this hash.
      await notifyKeyChanged(tx, pk);
      log.info({ workspaceId: ws, keyId: BOOTSTRAP_KEY_ID }, 'bootstrap key created from GATEHOUSE_BOOTSTRAP_KEY');
      return;
    }

    // Locked: a second process starting at the same moment waits here, then finds nothing to do.
    const [key] = await tx.execute<BootstrapKeyRow[]>(
      `select pk, start, permissions, enabled, revoked_at, expires_at from api_key where workspace_id = ? and id = ? for update`,
      [ws, BOOTSTRAP_KEY_ID],
    );
    if (!key) return;
    if (key.revoked_at) {
      log.warn(
        { workspaceId: ws, keyId: BOOTSTRAP_KEY_ID, revokedAt: new Date(key.revoked_at).toISOString() },
        "key 'bootstrap' is revoked and stays revoked: GATEHOUSE_BOOTSTRAP_KEY no longer signs in. Delete the key to have the next start create it anew, or unset the variable",
      );
      return;
    }
    if (!key.enabled || (key.expires_at && new Date(key.expires_at) <= new Date())) {
      log.warn(
        { workspaceId: ws, keyId: BOOTSTRAP_KEY_ID, enabled: key.enabled, expiresAt: key.expires_at ? new Date(key.expires_at).toISOString() : null },
        `key 'bootstrap' is ${key.enabled ? 'expired' : 'disabled'} and start-up leaves it so; an admin or operator key can change that`,
      );
    }

    const secrets = await tx.execute<{ hash: string; start: string; revoked_at: Date | null; expires_at: Date | null }[]>(
      `select hash, start, revoked_at, expires_at from api_key_secret where api_key_pk = ?`,
      [key.pk],
    );
    const now = new Date();
    const current = secrets.find((s) => s.hash === hash && !s.revoked_at && (!s.expires_at || new Date(s.expires_at) > now));
    const secretChanged = !current || secrets.length > 1;
    const samePermissions = JSON.stringify([...key.permissions].sort()) === JSON.stringify([...BOOTSTRAP_PERMISSIONS].sort());

    if (!secretChanged && samePermissions) {
      // Only the masked start may be stale (it once showed more of a chosen secret): not a change worth an entry.
      if (key.start !== start || current.start !== start) {
        await tx.execute(`update api_key set start = ? where pk = ?`, [start, key.pk]);
        await tx.execute(`update api_key_secret set start = ? where hash = ?`, [start, hash]);
      }
      return;
    }

    const changes: Record<string, unknown> = { source: SOURCE };
    if (secretChanged) {
      // The setting is the source of truth: any other secret this key had stops working.
      await tx.execute(`delete from api_key_secret where api_key_pk = ? and hash <> ?`, [key.pk, hash]);
      await tx.execute(
        `insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())
         on conflict (hash) do update set revoked_at = null, expires_at = null, start = excluded.start`,
        [hash, key.pk, start],
      );
      // Masked, as lists show them: the entry says the secret changed without holding it.
      changes['secret'] = { from: key.start, to: start };
    }
    if (!samePermissions) changes['permissions'] = { from: key.permissions, to: BOOTSTRAP_PERMISSIONS };
    await tx.execute(`update api_key set permissions = ?, start = ?, updated_at = now() where pk = ?`, [JSON.stringify(BOOTSTRAP_PERMISSIONS), start, key.pk]);
    await recordAudit(tx, null, { workspaceId: ws, action: 'key.updated', targetType: 'api_key', targetId: BOOTSTRAP_KEY_ID, changes });
    // Running API processes cache keys: tell them the old bootstrap secret is gone.
    await notifyKeyChanged(tx, key.pk);
    log.info({ workspaceId: ws, keyId: BOOTSTRAP_KEY_ID, changed: Object.keys(changes).filter((k) => k !== 'source') }, 'bootstrap key brought in line with GATEHOUSE_BOOTSTRAP_KEY');
  });
}
