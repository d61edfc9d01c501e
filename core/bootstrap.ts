import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { json, typedDb } from '../db/kysely.js';
import { recordAudit } from './audit.js';
import type { Config } from './config.js';
import { newId } from './ids.js';
import { notifyKeyChanged } from './keys/notify.js';
import { generateSecret, hashSecret, maskSecret } from './keys/secret.js';
import { createLogger, type Logger } from './log.js';
import { workspaceScope } from './scope.js';
import { seedEventTypes } from './webhooks/event-types.js';
import { newClientId } from './keys/client-id.js';

export interface BootstrapResult {
  /** Set only when this start created an admin key nobody has seen yet: print it once. */
  createdSecret?: string;
}

const BOOTSTRAP_KEY_ID = 'bootstrap';
const BOOTSTRAP_PERMISSIONS = ['admin', 'operator'];
/** Audit entries written by start-up name their source here; the actor is Gatehouse itself. */
const SOURCE = 'GATEHOUSE_BOOTSTRAP_KEY';
const now = sql<Date>`now()`;

/** The columns a key made at start-up has beyond its id, name, pk and start: admin + operator, no limits. */
const BOOTSTRAP_KEY_COLUMNS = {
  environment: 'live',
  permissions: json(BOOTSTRAP_PERMISSIONS),
  rate_limits: json([]),
  ip_allowlist: json([]),
  metadata: json({}),
  enabled: true,
  created_at: now,
  updated_at: now,
} as const;

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
  await typedDb(em)
    .insertInto('workspace')
    .values({ id: ws, name: 'Default workspace', key_prefix: 'gate', created_at: now })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const brought = await seedEventTypes(em);
  if (brought > 0) log.info({ eventTypes: brought }, 'built-in event types written from the catalog');
  const pepper = config.GATEHOUSE_KEY_PEPPER;

  if (config.GATEHOUSE_BOOTSTRAP_KEY) {
    await ensureBootstrapKey(em, ws, config.GATEHOUSE_BOOTSTRAP_KEY, pepper, log);
    return {};
  }

  const admins = await workspaceScope(em, ws)
    .selectFrom('api_key')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('revoked_at', 'is', null)
    .where('permissions', '@>', json(['admin']))
    .executeTakeFirst();
  if (Number(admins?.n ?? 0) > 0) return {};
  const secret = generateSecret('gate', 'live');
  const pk = newId('kid');
  const created = await em.transactional(async (tx) => {
    const inserted = await workspaceScope(tx, ws)
      .insertInto('api_key', { ...BOOTSTRAP_KEY_COLUMNS, pk, id: 'admin', client_id: newClientId(), name: 'First admin key', start: maskSecret(secret) })
      .onConflict((oc) => oc.columns(['workspace_id', 'id']).doNothing())
      .returning('pk')
      .executeTakeFirst();
    if (!inserted) return false;
    // The secret row is reached through its key, just made in this workspace.
    await typedDb(tx).insertInto('api_key_secret').values({ hash: hashSecret(secret, pepper), api_key_pk: pk, start: maskSecret(secret), created_at: now }).execute();
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

/** Creates key `bootstrap` when missing; else brings its secret (and role) in line with the setting. */
async function ensureBootstrapKey(em: EntityManager, ws: string, secret: string, pepper: string | undefined, log: Logger): Promise<void> {
  const hash = hashSecret(secret, pepper);
  const start = maskSecret(secret);
  await em.transactional(async (tx) => {
    const scope = workspaceScope(tx, ws);
    const db = typedDb(tx);
    const inserted = await scope
      .insertInto('api_key', { ...BOOTSTRAP_KEY_COLUMNS, pk: newId('kid'), id: BOOTSTRAP_KEY_ID, client_id: newClientId(), name: 'Bootstrap key (GATEHOUSE_BOOTSTRAP_KEY)', start })
      .onConflict((oc) => oc.columns(['workspace_id', 'id']).doNothing())
      .returning('pk')
      .executeTakeFirst();
    if (inserted) {
      const pk = inserted.pk;
      await db
        .insertInto('api_key_secret')
        .values({ hash, api_key_pk: pk, start, created_at: now })
        .onConflict((oc) => oc.column('hash').doNothing())
        .execute();
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
    const key = await scope
      .selectFrom('api_key')
      .select(['pk', 'start', 'permissions', 'enabled', 'revoked_at', 'expires_at'])
      .where('id', '=', BOOTSTRAP_KEY_ID)
      .forUpdate()
      .executeTakeFirst();
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

    // Secrets are reached through their key, just found (and locked) in this workspace.
    const secrets = await db.selectFrom('api_key_secret').select(['hash', 'start', 'revoked_at', 'expires_at']).where('api_key_pk', '=', key.pk).execute();
    const at = new Date();
    const current = secrets.find((s) => s.hash === hash && !s.revoked_at && (!s.expires_at || new Date(s.expires_at) > at));
    const secretChanged = !current || secrets.length > 1;
    const samePermissions = JSON.stringify([...key.permissions].sort()) === JSON.stringify([...BOOTSTRAP_PERMISSIONS].sort());

    if (!secretChanged && samePermissions) {
      // Only the masked start may be stale (it once showed more of a chosen secret): not a change worth an entry.
      if (key.start !== start || current.start !== start) {
        await scope.updateTable('api_key').set({ start }).where('pk', '=', key.pk).execute();
        await db.updateTable('api_key_secret').set({ start }).where('hash', '=', hash).where('api_key_pk', '=', key.pk).execute();
      }
      return;
    }

    const changes: Record<string, unknown> = { source: SOURCE };
    if (secretChanged) {
      // The setting is the source of truth: any other secret this key had stops working.
      await db.deleteFrom('api_key_secret').where('api_key_pk', '=', key.pk).where('hash', '<>', hash).execute();
      await db
        .insertInto('api_key_secret')
        .values({ hash, api_key_pk: key.pk, start, created_at: now })
        .onConflict((oc) => oc.column('hash').doUpdateSet({ revoked_at: null, expires_at: null, start: (eb) => eb.ref('excluded.start') }))
        .execute();
      // Masked, as lists show them: the entry says the secret changed without holding it.
      changes['secret'] = { from: key.start, to: start };
    }
    if (!samePermissions) changes['permissions'] = { from: key.permissions, to: BOOTSTRAP_PERMISSIONS };
    await scope.updateTable('api_key').set({ permissions: json(BOOTSTRAP_PERMISSIONS), start, updated_at: now }).where('pk', '=', key.pk).execute();
    await recordAudit(tx, null, { workspaceId: ws, action: 'key.updated', targetType: 'api_key', targetId: BOOTSTRAP_KEY_ID, changes });
    // Running API processes cache keys: tell them the old bootstrap secret is gone.
    await notifyKeyChanged(tx, key.pk);
    log.info({ workspaceId: ws, keyId: BOOTSTRAP_KEY_ID, changed: Object.keys(changes).filter((k) => k !== 'source') }, 'bootstrap key brought in line with GATEHOUSE_BOOTSTRAP_KEY');
  });
}
