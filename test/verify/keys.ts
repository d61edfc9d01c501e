import { newId } from '../../core/ids.js';
import { notifyKeyChanged } from '../../core/keys/notify.js';
import { generateSecret, hashSecret, maskSecret } from '../../core/keys/secret.js';
import type { Stack } from '../harness.js';

export interface TestKeyOptions {
  workspaceId?: string;
  permissions?: string[];
  rateLimits?: { name: string; limit: number; windowSeconds: number }[];
  credits?: number | null;
  refill?: { amount: number; interval: 'daily' | 'monthly'; lastRefill: Date | null };
  expiresAt?: Date | null;
  ipAllowlist?: string[];
  enabled?: boolean;
  /** Ignore the generated secret and store this one (any string). */
  secret?: string;
}

export interface TestKey {
  pk: string;
  id: string;
  secret: string;
  workspaceId: string;
}

/**
 * A key written straight into the database, as the key service would, so these tests depend on
 * nothing but the schema.
 */
export async function insertKey(stack: Stack, opts: TestKeyOptions = {}): Promise<TestKey> {
  const workspaceId = opts.workspaceId ?? stack.config.GATEHOUSE_DEFAULT_WORKSPACE;
  const secret = opts.secret ?? generateSecret('gate', 'live');
  const pk = newId('kid');
  const id = newId('ak');
  const em = stack.orm.em.fork();
  await em.execute(`insert into workspace (id, name, key_prefix, created_at) values (?, ?, 'gate', now()) on conflict (id) do nothing`, [
    workspaceId,
    workspaceId,
  ]);
  await em.execute(
    `insert into api_key (client_id, pk, workspace_id, id, name, environment, permissions, rate_limits, credits_remaining,
       credits_refill_amount, credits_refill_interval, credits_refilled_at, expires_at, ip_allowlist, metadata, enabled, start, created_at, updated_at)
     values ('ci_' || replace(gen_random_uuid()::text, '-', ''), ?, ?, ?, 'verify test', 'live', ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, now(), now())`,
    [
      pk,
      workspaceId,
      id,
      JSON.stringify(opts.permissions ?? []),
      JSON.stringify(opts.rateLimits ?? []),
      opts.credits ?? null,
      opts.refill?.amount ?? null,
      opts.refill?.interval ?? null,
      opts.refill?.lastRefill ?? null,
      opts.expiresAt ?? null,
      JSON.stringify(opts.ipAllowlist ?? []),
      opts.enabled ?? true,
      maskSecret(secret),
    ],
  );
  await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
    hashSecret(secret, stack.config.GATEHOUSE_KEY_PEPPER),
    pk,
    maskSecret(secret),
  ]);
  return { pk, id, secret, workspaceId };
}

/** Changes a key the way the key service does: the update and the notification in one transaction. */
export async function changeKey(stack: Stack, pk: string, set: string, params: unknown[] = []): Promise<void> {
  await stack.orm.em.fork().transactional(async (tx) => {
    await tx.execute(`update api_key set ${set}, updated_at = now() where pk = ?`, [...params, pk]);
    await notifyKeyChanged(tx as never, pk);
  });
}

export async function creditsOf(stack: Stack, pk: string): Promise<number | null> {
  const [row] = await stack.orm.em.fork().execute<{ credits_remaining: number | null }[]>(
    `select credits_remaining from api_key where pk = ?`,
    [pk],
  );
  return row!.credits_remaining;
}
