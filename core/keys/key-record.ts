import type { RateLimit } from '../../db/entities/api-key.js';
import type { Row } from '../../db/kysely.js';
import { expandPermissions } from '../permissions.js';
import { compileAllowlist, type IpAllowlist } from './ip-allowlist.js';

/**
 * What verification needs to know about one secret and its key, as loaded by hash. Everything
 * here changes only through an update that calls notifyKeyChanged, so it may be cached; what
 * changes per request (credits left, rate-limit counters) is never part of it.
 */
export interface KeyRecord {
  pk: string;
  id: string;
  /** The key's public OAuth client id: the token endpoint checks the secret belongs to it. */
  clientId: string;
  workspaceId: string;
  /** As stored (presets unexpanded): what verify answers with. */
  permissions: string[];
  scopes: ReadonlySet<string>;
  rateLimits: RateLimit[];
  /** The key has a credit quota (credits_remaining is not null). */
  metered: boolean;
  enabled: boolean;
  revoked: boolean;
  /** Epoch ms; the earlier of the key's expiry and this secret's (a rotation's grace end). */
  expiresAt: number | null;
  /** The key's own expiry, as verify reports it. */
  keyExpiresAt: number | null;
  /** Which of the key's secrets this is (its rotation count when issued): access tokens name it. */
  secretRotation: number;
  allowlist: IpAllowlist;
  hasAllowlist: boolean;
}

/** A row of KEY_BY_HASH_SQL: the key's columns as the entity types them, and what the query computes. */
export type KeyRow = Pick<Row<'api_key'>, 'pk' | 'id' | 'client_id' | 'workspace_id' | 'permissions' | 'rate_limits' | 'enabled' | 'expires_at' | 'ip_allowlist'> & {
  metered: boolean;
  key_revoked: boolean;
  secret_revoked: boolean;
  secret_expires_at: Row<'api_key_secret'>['expires_at'];
  secret_rotation: Row<'api_key_secret'>['rotation'];
};

/** One index probe on api_key_secret's primary key, one on api_key's. */
// raw SQL: the verify cache load, run by the verifier on its own pg pool per cache miss (measured in BENCHMARKS.md)
export const KEY_BY_HASH_SQL = `
  select k.pk, k.id, k.client_id, k.workspace_id, k.permissions, k.rate_limits, k.credits_remaining is not null as metered,
         k.enabled, k.revoked_at is not null as key_revoked, s.revoked_at is not null as secret_revoked,
         k.expires_at, s.expires_at as secret_expires_at, s.rotation as secret_rotation, k.ip_allowlist
    from api_key_secret s join api_key k on k.pk = s.api_key_pk
   where s.hash = $1`;

export function toRecord(row: KeyRow): KeyRecord {
  const keyExpires = row.expires_at ? new Date(row.expires_at).getTime() : null;
  const secretExpires = row.secret_expires_at ? new Date(row.secret_expires_at).getTime() : null;
  const expiresAt = keyExpires === null ? secretExpires : secretExpires === null ? keyExpires : Math.min(keyExpires, secretExpires);
  const ipAllowlist = Array.isArray(row.ip_allowlist) ? row.ip_allowlist : [];
  const permissions = Array.isArray(row.permissions) ? row.permissions : [];
  return {
    pk: row.pk,
    id: row.id,
    clientId: row.client_id,
    workspaceId: row.workspace_id,
    permissions,
    scopes: new Set(expandPermissions(permissions)),
    rateLimits: normaliseRateLimits(row.rate_limits),
    metered: row.metered,
    enabled: row.enabled,
    revoked: row.key_revoked || row.secret_revoked,
    expiresAt,
    keyExpiresAt: keyExpires,
    secretRotation: row.secret_rotation,
    allowlist: compileAllowlistSafe(ipAllowlist),
    hasAllowlist: ipAllowlist.length > 0,
  };
}

/** An allowlist that does not compile allows nothing: failing closed beats failing open. */
export function compileAllowlistSafe(entries: readonly string[]) {
  try {
    return compileAllowlist(entries);
  } catch {
    return { allows: () => false };
  }
}

/**
 * Rate limits as stored in jsonb. The entity says `windowSeconds`; REST bodies say
 * `window_seconds`; both are read so a writer's casing cannot switch a limit off.
 */
export function normaliseRateLimits(raw: unknown): RateLimit[] {
  if (!Array.isArray(raw)) return [];
  const out: RateLimit[] = [];
  raw.forEach((item, i) => {
    const r = item as { name?: unknown; limit?: unknown; windowSeconds?: unknown; window_seconds?: unknown };
    const limit = Number(r.limit);
    const windowSeconds = Number(r.windowSeconds ?? r.window_seconds);
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(windowSeconds) || windowSeconds < 1) return;
    out.push({ name: typeof r.name === 'string' && r.name ? r.name.slice(0, 64) : `limit-${i}`, limit, windowSeconds });
  });
  return out;
}
