import { randomBytes } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { newId } from '../../core/ids.js';
import { generateSecret, hashSecret, maskSecret } from '../../core/keys/secret.js';
import { authenticate } from '../../server/auth/authenticate.js';
import type { Stack } from '../harness.js';

export interface TestKey {
  pk: string;
  keyId: string;
  secret: string;
}

/** Another key in an existing workspace, straight in the database (as the harness makes its owner key). */
export async function addKey(
  stack: Stack,
  workspaceId: string,
  o: { keyId?: string; permissions?: string[]; rotationPolicyDays?: number; createdDaysAgo?: number; expiresInDays?: number; revoked?: boolean; enabled?: boolean } = {},
): Promise<TestKey> {
  const keyId = o.keyId ?? `k-${randomBytes(3).toString('hex')}`;
  const secret = generateSecret('gate', 'live');
  const pk = newId('kid');
  const em = stack.orm.em.fork();
  await em.execute(
    `insert into api_key (client_id, pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start,
                          rotation_policy_days, expires_at, revoked_at, created_at, updated_at)
     values ('ci_' || replace(gen_random_uuid()::text, '-', ''), ?, ?, ?, 'test key', 'live', ?, '[]', '[]', '{}', ?, ?, ?,
             case when ?::int is null then null else now() + make_interval(days => ?::int) end,
             case when ? then now() else null end,
             now() - make_interval(days => ?::int), now())`,
    [
      pk,
      workspaceId,
      keyId,
      JSON.stringify(o.permissions ?? ['read-only']),
      o.enabled ?? true,
      maskSecret(secret),
      o.rotationPolicyDays ?? null,
      o.expiresInDays ?? null,
      o.expiresInDays ?? null,
      o.revoked ?? false,
      o.createdDaysAgo ?? 0,
    ],
  );
  await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
    hashSecret(secret, stack.config.GATEHOUSE_KEY_PEPPER),
    pk,
    maskSecret(secret),
  ]);
  return { pk, keyId, secret };
}

/** Does this secret authenticate right now? Straight against PostgreSQL, as every API process would. */
export async function works(stack: Stack, secret: string): Promise<boolean> {
  return (await authenticate(stack.orm.em.fork() as never, secret, stack.config.GATEHOUSE_KEY_PEPPER)) !== undefined;
}

export function hashOf(stack: Stack, secret: string): string {
  return hashSecret(secret, stack.config.GATEHOUSE_KEY_PEPPER);
}

export async function secretRow(stack: Stack, secret: string) {
  const rows = await stack.orm.em
    .fork()
    .execute<{ expires_at: string | null; revoked_at: string | null; rotation: number }[]>(
      `select expires_at, revoked_at, rotation from api_key_secret where hash = ?`,
      [hashOf(stack, secret)],
    );
  const row = rows[0];
  // Raw rows carry timestamps as text: times here, so a check can compare them.
  const time = (t: string | null) => (t === null ? null : new Date(t));
  return row && { ...row, expires_at: time(row.expires_at), revoked_at: time(row.revoked_at) };
}

export interface EventRow {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  idempotency_key: string | null;
  created_at: Date;
}

export async function events(stack: Stack, workspaceId: string, type?: string): Promise<EventRow[]> {
  return stack.orm.em
    .fork()
    .execute<EventRow[]>(
      `select id, type, payload, idempotency_key, created_at from event where workspace_id = ? and (?::text is null or type = ?) order by created_at, id`,
      [workspaceId, type ?? null, type ?? null],
    );
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every string and decoded payload in a workflow's history, as one text to search. */
export async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'), Buffer.from(v).toString('base64'));
    else if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return out.join('\n');
}
