import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, type UpdateObject } from 'kysely';
import type { TemporalHandle } from '../../temporal/client.js';
import { json, typedDb, type Db, type Row } from '../../db/kysely.js';
import { conflict, HttpError, notFound, truncate } from '../errors.js';
import { recordAudit } from '../audit.js';
import { raiseEvent } from '../events.js';
import { newId } from '../ids.js';
import { page } from '../page.js';
import { workspaceScope } from '../scope.js';
import { expandPermissions, namesOperator, PRESETS, ungrantable, type Preset } from '../permissions.js';
import { looserCredits, looserRateLimits, type CreditsBound } from './limit-order.js';
import { assertMayLoosen, assertNoLooserThanCreator } from './limit-policy.js';
import { assertMayManage } from './may-manage.js';
import { notifyKeyChanged } from './notify.js';
import { assertKeyChangeWithinPlan, assertNewKeyWithinPlan } from '../plans/enforce.js';
import {
  normalizeRateLimits,
  type CreateKeyInput,
  type CreditsInput,
  type KeyStatus,
  type ListKeysInput,
  type UpdateKeyInput,
} from './schema.js';
import { generateSecret, hashSecret, maskSecret, type KeyEnvironment } from './secret.js';
import { newClientId } from './client-id.js';

/** What the key service needs: passed in, so tRPC, REST and activities call it alike. */
export interface KeyServiceDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  /** GATEHOUSE_KEY_PEPPER, when configured. */
  pepper?: string;
}

/** The key acting, in its own workspace; the shape of the server's Principal plus the caller's address. */
export interface KeyActor {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
  ip: string;
}

export interface RateLimitView {
  name: string;
  limit: number;
  windowSeconds: number;
}

export interface CreditsView {
  remaining: number;
  refill: { amount: number; interval: 'daily' | 'monthly'; lastRefillAt: string | null } | null;
}

/** A key as every list and read shows it: the masked start, never the secret or its hash. */
export interface KeyView {
  id: string;
  /** The key's public OAuth client id (`ci_…`): it names the key at the token endpoint. */
  clientId: string;
  name: string;
  environment: KeyEnvironment;
  status: KeyStatus;
  /** As granted: presets stay presets. */
  permissions: string[];
  /** What the permissions amount to, presets expanded. */
  scopes: string[];
  start: string;
  enabled: boolean;
  rateLimits: RateLimitView[];
  credits: CreditsView | null;
  expiresAt: string | null;
  ipAllowlist: string[];
  rotationPolicyDays: number | null;
  metadata: Record<string, unknown>;
  rotationCount: number;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  lastRotatedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedKey extends KeyView {
  /** The whole secret: returned by this call only, stored nowhere in clear. */
  secret: string;
}

/** A key as stored: the type comes from the ApiKey entity, so a renamed column fails typecheck here. */
type KeyRow = Row<'api_key'>;

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function statusOf(row: KeyRow, now = Date.now()): KeyStatus {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at && new Date(row.expires_at).getTime() <= now) return 'expired';
  if (!row.enabled) return 'disabled';
  return 'active';
}

function toView(row: KeyRow): KeyView {
  return {
    id: row.id,
    clientId: row.client_id,
    name: row.name,
    environment: row.environment as KeyEnvironment,
    status: statusOf(row),
    permissions: row.permissions,
    scopes: expandPermissions(row.permissions),
    start: row.start,
    enabled: row.enabled,
    rateLimits: row.rate_limits,
    credits:
      row.credits_remaining === null
        ? null
        : {
            remaining: row.credits_remaining,
            refill:
              row.credits_refill_amount !== null && row.credits_refill_interval
                ? {
                    amount: row.credits_refill_amount,
                    interval: row.credits_refill_interval as 'daily' | 'monthly',
                    lastRefillAt: iso(row.credits_refilled_at),
                  }
                : null,
          },
    expiresAt: iso(row.expires_at),
    ipAllowlist: row.ip_allowlist,
    rotationPolicyDays: row.rotation_policy_days,
    metadata: row.metadata,
    rotationCount: row.rotation_count,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    lastUsedAt: iso(row.last_used_at),
    lastRotatedAt: iso(row.last_rotated_at),
    revokedAt: iso(row.revoked_at),
  };
}

const keyNotFound = (id: string) => notFound('API key', id);

function escalation(permission: string, verb: string): HttpError {
  return new HttpError(
    403,
    'insufficient_permissions',
    `permissions: this API key cannot ${verb} '${truncate(permission)}' because it does not hold that permission itself`,
    'permissions',
  );
}

function assertFuture(date: Date | null | undefined): void {
  if (date && date.getTime() <= Date.now()) {
    throw new HttpError(400, 'invalid_input', 'expires_at: must be in the future', 'expires_at');
  }
}

function creditColumns(credits: CreditsInput | null | undefined) {
  return {
    credits_remaining: credits ? credits.remaining : null,
    credits_refill_amount: credits?.refill ? credits.refill.amount : null,
    credits_refill_interval: credits?.refill ? credits.refill.interval : null,
  };
}

type CreditRow = Pick<KeyRow, 'credits_remaining' | 'credits_refill_amount' | 'credits_refill_interval'>;

/** A key's stored credits as input: what a new key inherits, and what a change is compared with. */
function creditsOf(row: CreditRow): CreditsInput | null {
  if (row.credits_remaining === null) return null;
  const refill =
    row.credits_refill_amount !== null && row.credits_refill_interval
      ? { amount: row.credits_refill_amount, interval: row.credits_refill_interval as 'daily' | 'monthly' }
      : null;
  return { remaining: row.credits_remaining, refill };
}

const creditsBound = (c: CreditsInput | null): CreditsBound | null => (c ? { remaining: c.remaining, refill: c.refill ?? null } : null);

/** Default permissions of a new key: the creator's own, minus `operator`, which is never handed on implicitly. */
function inheritedPermissions(actorPermissions: string[]): string[] {
  return actorPermissions.filter((p) => !namesOperator(p));
}

/** Audit and event payload fields in the REST API's words; values only, never a secret or hash. */
function auditSnapshot(row: KeyRow): Record<string, unknown> {
  return {
    name: row.name,
    environment: row.environment,
    permissions: row.permissions,
    rate_limits: row.rate_limits,
    credits_remaining: row.credits_remaining,
    credits_refill_amount: row.credits_refill_amount,
    credits_refill_interval: row.credits_refill_interval,
    expires_at: iso(row.expires_at),
    ip_allowlist: row.ip_allowlist,
    rotation_policy_days: row.rotation_policy_days,
    metadata: row.metadata,
    enabled: row.enabled,
  };
}

async function lockKey(em: EntityManager, workspaceId: string, id: string): Promise<KeyRow> {
  return workspaceScope(em, workspaceId)
    .selectFrom('api_key')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirstOrThrow(() => keyNotFound(id));
}

export interface InsertKeyOptions {
  workspaceId: string;
  id: string;
  name: string;
  environment: KeyEnvironment;
  permissions: string[];
  rateLimits: RateLimitView[];
  credits: CreditsInput | null;
  expiresAt: Date | null;
  ipAllowlist: string[];
  rotationPolicyDays: number | null;
  metadata: Record<string, unknown>;
  enabled: boolean;
}

/**
 * Stores a key and the hash of a fresh secret, audits it and raises `key.created`, inside `em`'s
 * transaction. No permission check: callers decide who may (createKey, createWorkspace).
 */
export async function insertKey(em: EntityManager, deps: KeyServiceDeps, actor: KeyActor | null, o: InsertKeyOptions): Promise<CreatedKey> {
  const ws = await typedDb(em).selectFrom('workspace').select('key_prefix').where('id', '=', o.workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace', o.workspaceId);
  const secret = generateSecret(ws.key_prefix, o.environment);
  const start = maskSecret(secret);
  const pk = newId('kid');
  const credits = creditColumns(o.credits);
  const row = await workspaceScope(em, o.workspaceId)
    .insertInto('api_key', {
      pk,
      id: o.id,
      client_id: newClientId(),
      name: o.name,
      environment: o.environment,
      permissions: json(o.permissions),
      rate_limits: json(o.rateLimits),
      ...credits,
      credits_refilled_at: credits.credits_refill_amount === null ? null : sql<Date>`now()`,
      expires_at: o.expiresAt,
      ip_allowlist: json(o.ipAllowlist),
      rotation_policy_days: o.rotationPolicyDays,
      metadata: json(o.metadata),
      enabled: o.enabled,
      start,
      rotation_count: 0,
      created_at: sql<Date>`clock_timestamp()`,
      updated_at: sql<Date>`clock_timestamp()`,
    })
    .onConflict((oc) => oc.columns(['workspace_id', 'id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw conflict(`id: an API key '${truncate(o.id)}' already exists in this workspace; choose another id`, 'id');
  // The secret row is reached through its key, whose pk was just made in this workspace.
  await typedDb(em)
    .insertInto('api_key_secret')
    .values({ hash: hashSecret(secret, deps.pepper), api_key_pk: pk, start, created_at: sql<Date>`now()` })
    .execute();
  await recordAudit(em, actor, {
    workspaceId: o.workspaceId,
    action: 'key.created',
    targetType: 'api_key',
    targetId: o.id,
    changes: auditSnapshot(row),
  });
  await raiseEvent(
    { em, temporal: deps.temporal },
    { workspaceId: o.workspaceId, type: 'key.created', payload: { key_id: o.id, environment: o.environment, actor_key_id: actor?.keyId ?? null } },
  );
  // A verifier may hold a "no such secret" answer for this key's hash-to-be; new keys announce themselves too.
  await notifyKeyChanged(em, pk);
  return { ...toView(row), secret };
}

export async function createKey(deps: KeyServiceDeps, actor: KeyActor, input: CreateKeyInput): Promise<CreatedKey> {
  assertFuture(input.expiresAt);
  return deps.em.transactional(async (tx) => {
    const me = await workspaceScope(tx, actor.workspaceId)
      .selectFrom('api_key')
      .select(['permissions', 'rate_limits', 'credits_remaining', 'credits_refill_amount', 'credits_refill_interval'])
      .where('pk', '=', actor.keyPk)
      .executeTakeFirst();
    const permissions = input.permissions ?? inheritedPermissions(me?.permissions ?? []);
    const denied = ungrantable(actor.scopes, permissions);
    if (denied) throw escalation(denied, 'grant');
    // Omitted limits are the creator's own, so `POST /api-keys {}` never mints a limitless clone.
    const creatorLimits = me?.rate_limits ?? [];
    const creatorCredits = me ? creditsOf(me) : null;
    const rateLimits = input.rateLimits === undefined ? creatorLimits : normalizeRateLimits(input.rateLimits);
    const credits = input.credits === undefined ? creatorCredits : input.credits;
    assertNoLooserThanCreator(actor, 'rate_limits', looserRateLimits(rateLimits, creatorLimits));
    assertNoLooserThanCreator(actor, 'credits', looserCredits(creditsBound(credits), creditsBound(creatorCredits)));
    await assertNewKeyWithinPlan(tx, actor.workspaceId, { rateLimits, credits, permissions });
    const options: Omit<InsertKeyOptions, 'id'> = {
      workspaceId: actor.workspaceId,
      name: input.name ?? '',
      environment: input.environment ?? 'live',
      permissions,
      rateLimits,
      credits,
      expiresAt: input.expiresAt ?? null,
      ipAllowlist: input.ipAllowlist ?? [],
      rotationPolicyDays: input.rotationPolicyDays ?? null,
      metadata: input.metadata ?? {},
      enabled: input.enabled ?? true,
    };
    return insertKey(tx, deps, actor, { ...options, id: input.id ?? newId('ak', 8) });
  });
}

export async function getKey(em: EntityManager, workspaceId: string, id: string): Promise<KeyView> {
  const row = await workspaceScope(em, workspaceId)
    .selectFrom('api_key')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow(() => keyNotFound(id));
  return toView(row);
}

/** Presets that include `scope`, so a filter for `keys:write` also finds `write` and `admin` keys. */
function permissionsGranting(permission: string): string[] {
  const out = [permission];
  for (const [preset, scopes] of Object.entries(PRESETS)) {
    if ((scopes as readonly string[]).includes(permission)) out.push(preset as Preset);
  }
  const resource = permission.split(':')[0];
  if (permission.includes(':') && !permission.endsWith(':*')) out.push(`${resource}:*`);
  return out;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listKeys(
  em: EntityManager,
  workspaceId: string,
  filter: ListKeysInput = {},
): Promise<{ keys: KeyView[]; nextCursor: string | null }> {
  let q = workspaceScope(em, workspaceId).selectFrom('api_key').selectAll();
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  const now = sql<Date>`now()`;
  const live = q.where('revoked_at', 'is', null).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  switch (filter.status) {
    case 'revoked':
      q = q.where('revoked_at', 'is not', null);
      break;
    case 'current':
      q = q.where('revoked_at', 'is', null);
      break;
    case 'expired':
      q = q.where('revoked_at', 'is', null).where('expires_at', 'is not', null).where('expires_at', '<=', now);
      break;
    case 'disabled':
      q = live.where('enabled', '=', false);
      break;
    case 'active':
      q = live.where('enabled', '=', true);
      break;
  }
  if (filter.permission) {
    const any = permissionsGranting(filter.permission);
    q = q.where((eb) => eb.or(any.map((p) => eb('permissions', '@>', json([p])))));
  }
  if (filter.search) {
    const like = `%${escapeLike(filter.search)}%`;
    q = q.where((eb) => eb.or([eb('id', 'ilike', like), eb('name', 'ilike', like)]));
  }
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'pk' }, { cursor: filter.cursor, limit: filter.limit ?? 100 });
  return { keys: items.map(toView), nextCursor };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What `updateKey` may change; the jsonb ones are sent as JSON (see `json`). */
type UpdatableColumn =
  | 'name'
  | 'permissions'
  | 'rate_limits'
  | 'credits_remaining'
  | 'credits_refill_amount'
  | 'credits_refill_interval'
  | 'expires_at'
  | 'ip_allowlist'
  | 'rotation_policy_days'
  | 'metadata'
  | 'enabled';
const JSON_COLUMNS = new Set<UpdatableColumn>(['permissions', 'rate_limits', 'ip_allowlist', 'metadata']);

export async function updateKey(deps: KeyServiceDeps, actor: KeyActor, id: string, input: UpdateKeyInput): Promise<KeyView> {
  if (input.expiresAt !== undefined) assertFuture(input.expiresAt);
  return deps.em.transactional(async (tx) => {
    const row = await lockKey(tx, actor.workspaceId, id);
    assertMayManage(actor, row, 'change');
    if (row.revoked_at) throw conflict(`API key '${truncate(id)}' is revoked; revoked keys cannot be changed, create a new key instead`);
    if (input.permissions !== undefined) {
      const denied = ungrantable(actor.scopes, input.permissions);
      if (denied) throw escalation(denied, 'grant');
    }
    if (input.rateLimits !== undefined) {
      assertMayLoosen(actor, row, 'rate_limits', looserRateLimits(normalizeRateLimits(input.rateLimits), row.rate_limits));
    }
    if (input.credits !== undefined) {
      assertMayLoosen(actor, row, 'credits', looserCredits(creditsBound(input.credits), creditsBound(creditsOf(row))));
    }
    await assertKeyChangeWithinPlan(tx, actor.workspaceId, {
      rateLimits: input.rateLimits === undefined ? undefined : normalizeRateLimits(input.rateLimits),
      credits: input.credits,
      permissions: input.permissions,
    });

    const next: Partial<Pick<KeyRow, UpdatableColumn>> = {};
    if (input.name !== undefined) next.name = input.name;
    if (input.permissions !== undefined) next.permissions = input.permissions;
    if (input.rateLimits !== undefined) next.rate_limits = normalizeRateLimits(input.rateLimits);
    if (input.credits !== undefined) Object.assign(next, creditColumns(input.credits));
    if (input.expiresAt !== undefined) next.expires_at = input.expiresAt;
    if (input.ipAllowlist !== undefined) next.ip_allowlist = input.ipAllowlist;
    if (input.rotationPolicyDays !== undefined) next.rotation_policy_days = input.rotationPolicyDays;
    if (input.metadata !== undefined) next.metadata = input.metadata;
    if (input.enabled !== undefined) next.enabled = input.enabled;

    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const [column, value] of Object.entries(next) as [UpdatableColumn, unknown][]) {
      const before = row[column] instanceof Date ? iso(row[column] as Date) : row[column];
      const after = value instanceof Date ? value.toISOString() : value;
      if (!same(before, after)) changes[column] = { from: before, to: after };
    }
    if (Object.keys(changes).length === 0) return toView(row);

    const columns = Object.keys(changes) as UpdatableColumn[];
    const set: Record<string, unknown> = { updated_at: sql<Date>`clock_timestamp()` };
    for (const c of columns) set[c] = JSON_COLUMNS.has(c) ? json(next[c]) : next[c];
    // A new refill plan starts counting from now.
    if (columns.includes('credits_refill_amount') || columns.includes('credits_refill_interval')) {
      set.credits_refilled_at = next.credits_refill_amount == null ? null : sql<Date>`now()`;
    }
    const updated = await workspaceScope(tx, actor.workspaceId)
      .updateTable('api_key')
      .set(set as UpdateObject<Db, 'api_key'>)
      .where('pk', '=', row.pk)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'key.updated', targetType: 'api_key', targetId: row.id, changes });
    await notifyKeyChanged(tx, row.pk);
    return toView(updated);
  });
}

/** Stops the key and every secret it has (a rotation's old one included) for good. Revoking twice changes nothing. */
export async function revokeKey(deps: KeyServiceDeps, actor: KeyActor, id: string): Promise<KeyView> {
  return deps.em.transactional(async (tx) => {
    const row = await lockKey(tx, actor.workspaceId, id);
    assertMayManage(actor, row, 'revoke');
    if (row.revoked_at) return toView(row);
    const updated = await workspaceScope(tx, actor.workspaceId)
      .updateTable('api_key')
      .set({ revoked_at: sql<Date>`clock_timestamp()`, updated_at: sql<Date>`clock_timestamp()` })
      .where('pk', '=', row.pk)
      .returningAll()
      .executeTakeFirstOrThrow();
    // Secrets are reached through their key, just found (and locked) in this workspace.
    await typedDb(tx).updateTable('api_key_secret').set({ revoked_at: sql<Date>`now()` }).where('api_key_pk', '=', row.pk).where('revoked_at', 'is', null).execute();
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'key.revoked',
      targetType: 'api_key',
      targetId: row.id,
      changes: { revoked_at: { from: null, to: iso(updated.revoked_at) } },
    });
    await raiseEvent(
      { em: tx, temporal: deps.temporal },
      { workspaceId: actor.workspaceId, type: 'key.revoked', payload: { key_id: row.id, actor_key_id: actor.keyId, deleted: false } },
    );
    await notifyKeyChanged(tx, row.pk);
    return toView(updated);
  });
}

/** Removes the key and its secrets; the audit trail keeps the record. A key that still worked raises `key.revoked`. */
export async function deleteKey(deps: KeyServiceDeps, actor: KeyActor, id: string): Promise<{ id: string }> {
  return deps.em.transactional(async (tx) => {
    const row = await lockKey(tx, actor.workspaceId, id);
    assertMayManage(actor, row, 'delete');
    await workspaceScope(tx, actor.workspaceId).deleteFrom('api_key').where('pk', '=', row.pk).execute();
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'key.deleted',
      targetType: 'api_key',
      targetId: row.id,
      changes: auditSnapshot(row),
    });
    if (!row.revoked_at) {
      await raiseEvent(
        { em: tx, temporal: deps.temporal },
        { workspaceId: actor.workspaceId, type: 'key.revoked', payload: { key_id: row.id, actor_key_id: actor.keyId, deleted: true } },
      );
    }
    await notifyKeyChanged(tx, row.pk);
    return { id: row.id };
  });
}
