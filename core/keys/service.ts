import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../../temporal/client.js';
import { conflict, HttpError, notFound, truncate } from '../errors.js';
import { recordAudit } from '../audit.js';
import { cursorTimestamp, decodeCursor, encodeCursor } from '../cursor.js';
import { raiseEvent } from '../events.js';
import { newId } from '../ids.js';
import { expandPermissions, namesOperator, PRESETS, ungrantable, type Preset } from '../permissions.js';
import { looserCredits, looserRateLimits, type CreditsBound } from './limit-order.js';
import { assertMayLoosen, assertNoLooserThanCreator } from './limit-policy.js';
import { assertMayManage } from './may-manage.js';
import { notifyKeyChanged } from './notify.js';
import {
  normalizeRateLimits,
  type CreateKeyInput,
  type CreditsInput,
  type KeyStatus,
  type ListKeysInput,
  type UpdateKeyInput,
} from './schema.js';
import { generateSecret, hashSecret, maskSecret, type KeyEnvironment } from './secret.js';

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

interface KeyRow {
  pk: string;
  workspace_id: string;
  id: string;
  name: string;
  environment: string;
  permissions: string[];
  rate_limits: RateLimitView[];
  credits_remaining: number | null;
  credits_refill_amount: number | null;
  credits_refill_interval: string | null;
  credits_refilled_at: Date | null;
  expires_at: Date | null;
  ip_allowlist: string[];
  rotation_policy_days: number | null;
  metadata: Record<string, unknown>;
  enabled: boolean;
  start: string;
  rotation_count: number;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
  last_rotated_at: Date | null;
  revoked_at: Date | null;
}

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
  const [row] = await em.execute<KeyRow[]>(`select * from api_key where workspace_id = ? and id = ? for update`, [workspaceId, id]);
  if (!row) throw keyNotFound(id);
  return row;
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
  const [ws] = await em.execute<{ key_prefix: string }[]>(`select key_prefix from workspace where id = ?`, [o.workspaceId]);
  if (!ws) throw notFound('Workspace', o.workspaceId);
  const secret = generateSecret(ws.key_prefix, o.environment);
  const start = maskSecret(secret);
  const pk = newId('kid');
  const credits = creditColumns(o.credits);
  const inserted = await em.execute<KeyRow[]>(
    `insert into api_key (pk, workspace_id, id, name, environment, permissions, rate_limits, credits_remaining, credits_refill_amount,
        credits_refill_interval, credits_refilled_at, expires_at, ip_allowlist, rotation_policy_days, metadata, enabled, start,
        rotation_count, created_at, updated_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, case when ?::int is null then null else now() end, ?, ?, ?, ?, ?, ?, 0, clock_timestamp(), clock_timestamp())
     on conflict (workspace_id, id) do nothing
     returning *`,
    [
      pk,
      o.workspaceId,
      o.id,
      o.name,
      o.environment,
      JSON.stringify(o.permissions),
      JSON.stringify(o.rateLimits),
      credits.credits_remaining,
      credits.credits_refill_amount,
      credits.credits_refill_interval,
      credits.credits_refill_amount,
      o.expiresAt,
      JSON.stringify(o.ipAllowlist),
      o.rotationPolicyDays,
      JSON.stringify(o.metadata),
      o.enabled,
      start,
    ],
  );
  const row = inserted[0];
  if (!row) throw conflict(`id: an API key '${truncate(o.id)}' already exists in this workspace; choose another id`, 'id');
  await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
    hashSecret(secret, deps.pepper),
    pk,
    start,
  ]);
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
    const [me] = await tx.execute<(CreditRow & Pick<KeyRow, 'permissions' | 'rate_limits'>)[]>(
      `select permissions, rate_limits, credits_remaining, credits_refill_amount, credits_refill_interval from api_key where pk = ?`,
      [actor.keyPk],
    );
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
  const [row] = await em.execute<KeyRow[]>(`select * from api_key where workspace_id = ? and id = ?`, [workspaceId, id]);
  if (!row) throw keyNotFound(id);
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
  const limit = filter.limit ?? 100;
  const where = ['workspace_id = ?'];
  const params: unknown[] = [workspaceId];
  if (filter.environment) {
    where.push('environment = ?');
    params.push(filter.environment);
  }
  switch (filter.status) {
    case 'revoked':
      where.push('revoked_at is not null');
      break;
    case 'expired':
      where.push('revoked_at is null and expires_at is not null and expires_at <= now()');
      break;
    case 'disabled':
      where.push('revoked_at is null and (expires_at is null or expires_at > now()) and not enabled');
      break;
    case 'active':
      where.push('revoked_at is null and (expires_at is null or expires_at > now()) and enabled');
      break;
  }
  if (filter.permission) {
    const any = permissionsGranting(filter.permission);
    where.push(`(${any.map(() => 'permissions @> ?::jsonb').join(' or ')})`);
    params.push(...any.map((p) => JSON.stringify([p])));
  }
  if (filter.search) {
    where.push(`(id ilike ? or name ilike ?)`);
    const like = `%${escapeLike(filter.search)}%`;
    params.push(like, like);
  }
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    where.push('(created_at, pk) < (?::timestamptz, ?)');
    params.push(c.timestamp, c.id);
  }
  const rows = await em.execute<(KeyRow & { cursor_ts: string })[]>(
    `select *, ${cursorTimestamp('created_at')} as cursor_ts from api_key
      where ${where.join(' and ')} order by created_at desc, pk desc limit ?`,
    [...params, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { keys: page.map(toView), nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_ts, last.pk) : null };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

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

    const next: Partial<Record<keyof KeyRow, unknown>> = {};
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
    for (const [column, value] of Object.entries(next) as [keyof KeyRow, unknown][]) {
      const before = row[column] instanceof Date ? iso(row[column] as Date) : row[column];
      const after = value instanceof Date ? value.toISOString() : value;
      if (!same(before, after)) changes[column] = { from: before, to: after };
    }
    if (Object.keys(changes).length === 0) return toView(row);

    const columns = Object.keys(changes) as (keyof KeyRow)[];
    const json = new Set<keyof KeyRow>(['permissions', 'rate_limits', 'ip_allowlist', 'metadata']);
    const sets = columns.map((c) => `${c} = ?`);
    const values = columns.map((c) => (json.has(c) ? JSON.stringify(next[c]) : next[c]));
    // A new refill plan starts counting from now.
    if (columns.includes('credits_refill_amount') || columns.includes('credits_refill_interval')) {
      sets.push('credits_refilled_at = case when ?::int is null then null else now() end');
      values.push(next.credits_refill_amount);
    }
    const [updated] = await tx.execute<KeyRow[]>(
      `update api_key set ${sets.join(', ')}, updated_at = clock_timestamp() where pk = ? returning *`,
      [...values, row.pk],
    );
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'key.updated', targetType: 'api_key', targetId: row.id, changes });
    await notifyKeyChanged(tx, row.pk);
    return toView(updated!);
  });
}

/** Stops the key and every secret it has (a rotation's old one included) for good. Revoking twice changes nothing. */
export async function revokeKey(deps: KeyServiceDeps, actor: KeyActor, id: string): Promise<KeyView> {
  return deps.em.transactional(async (tx) => {
    const row = await lockKey(tx, actor.workspaceId, id);
    assertMayManage(actor, row, 'revoke');
    if (row.revoked_at) return toView(row);
    const [updated] = await tx.execute<KeyRow[]>(
      `update api_key set revoked_at = clock_timestamp(), updated_at = clock_timestamp() where pk = ? returning *`,
      [row.pk],
    );
    await tx.execute(`update api_key_secret set revoked_at = now() where api_key_pk = ? and revoked_at is null`, [row.pk]);
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'key.revoked',
      targetType: 'api_key',
      targetId: row.id,
      changes: { revoked_at: { from: null, to: iso(updated!.revoked_at) } },
    });
    await raiseEvent(
      { em: tx, temporal: deps.temporal },
      { workspaceId: actor.workspaceId, type: 'key.revoked', payload: { key_id: row.id, actor_key_id: actor.keyId, deleted: false } },
    );
    await notifyKeyChanged(tx, row.pk);
    return toView(updated!);
  });
}

/** Removes the key and its secrets; the audit trail keeps the record. A key that still worked raises `key.revoked`. */
export async function deleteKey(deps: KeyServiceDeps, actor: KeyActor, id: string): Promise<{ id: string }> {
  return deps.em.transactional(async (tx) => {
    const row = await lockKey(tx, actor.workspaceId, id);
    assertMayManage(actor, row, 'delete');
    await tx.execute(`delete from api_key where pk = ?`, [row.pk]);
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
