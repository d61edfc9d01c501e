import { badRequest } from '../errors.js';
import { chargeCredits } from './credits.js';
import type { KeyRecord } from './key-record.js';
import { parsePermissionExprCached, PermissionSyntaxError, satisfies, type PermissionExpr } from './permission-expr.js';
import type { KeyVerifier } from './verifier.js';

/** In the order the checks run: the first that fails is the answer. */
export const VERIFY_CODES = [
  'VALID',
  'NOT_FOUND',
  'DISABLED',
  'EXPIRED',
  'FORBIDDEN',
  'INSUFFICIENT_PERMISSIONS',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export interface VerifyInput {
  secret: string;
  /** The caller's workspace: a key of any other workspace is NOT_FOUND. */
  workspaceId: string;
  /** `products:write`, `a AND b`, `a OR (b AND c)`. */
  permission?: string;
  /** Address the key was presented from, checked against the key's IP allowlist. */
  ip?: string;
  /** Credits to charge when everything else passes (default 1; 0 checks without charging). */
  cost?: number;
}

export interface VerifyResult {
  valid: boolean;
  code: VerifyCode;
  keyId: string | null;
  permissions: string[];
  /** The limit that refused, else the one with least room left; null when the key has none. */
  ratelimit: { limit: number; remaining: number; reset: number } | null;
  /** Credits left; null when the key is not metered (or was not found). */
  credits: number | null;
  /** Epoch ms of the key's expiry; null when it never expires. */
  expires: number | null;
}

export interface VerifyDeps {
  verifier: KeyVerifier;
}

export const MAX_COST = 1_000_000;

/** Parses a permission expression, or throws a 400 naming `field`. */
export function parsePermissionInput(permission: string, field = 'permission'): PermissionExpr {
  try {
    return parsePermissionExprCached(permission);
  } catch (err) {
    if (err instanceof PermissionSyntaxError) throw badRequest(`${field}: ${err.message}`, field);
    throw err;
  }
}

const NOT_FOUND: VerifyResult = Object.freeze({
  valid: false,
  code: 'NOT_FOUND',
  keyId: null,
  permissions: [],
  ratelimit: null,
  credits: null,
  expires: null,
}) as VerifyResult;

/**
 * Verifies a key the way a customer's API asks: VALID, or the first check that failed. A found,
 * active key answers from memory unless it has rate limits (one batched upsert) or credits (one
 * atomic UPDATE, only once the rate limits passed).
 */
export async function verifyKey(input: VerifyInput, deps: VerifyDeps): Promise<VerifyResult> {
  const cost = input.cost ?? 1;
  if (!Number.isInteger(cost) || cost < 0 || cost > MAX_COST) throw badRequest(`cost: expected an integer from 0 to ${MAX_COST}`, 'cost');
  const expr = input.permission === undefined ? undefined : parsePermissionInput(input.permission);

  const found = deps.verifier.lookup(input.secret);
  const record = found instanceof Promise ? await found : found;
  if (!record || record.revoked || record.workspaceId !== input.workspaceId) return { ...NOT_FOUND, permissions: [] };

  if (!record.enabled) return refuse(record, 'DISABLED', null, null);
  if (record.expiresAt !== null && record.expiresAt <= Date.now()) return refuse(record, 'EXPIRED', null, null);
  if (record.hasAllowlist && !record.allowlist.allows(input.ip)) return refuse(record, 'FORBIDDEN', null, null);
  if (expr && !satisfies(expr, record.scopes)) return refuse(record, 'INSUFFICIENT_PERMISSIONS', null, null);

  let ratelimit: VerifyResult['ratelimit'] = null;
  if (record.rateLimits.length > 0) {
    const decision = await deps.verifier.limiter.consume(record.pk, record.rateLimits);
    const { limit, remaining, reset } = decision.state;
    ratelimit = { limit, remaining, reset };
    if (!decision.allowed) return refuse(record, 'RATE_LIMITED', ratelimit, null);
  }

  let credits: number | null = null;
  if (record.metered) {
    const charge = await chargeCredits(deps.verifier.pool, record.pk, cost, () => deps.verifier.queries++);
    credits = charge.remaining;
    if (!charge.charged) return refuse(record, 'USAGE_EXCEEDED', ratelimit, credits);
  }

  deps.verifier.touches.touch(record.pk);
  return { valid: true, code: 'VALID', keyId: record.id, permissions: record.permissions, ratelimit, credits, expires: record.keyExpiresAt };
}

/** A module-level function rather than a closure per call: this runs on every verification. */
function refuse(record: KeyRecord, code: VerifyCode, ratelimit: VerifyResult['ratelimit'], credits: number | null): VerifyResult {
  return { valid: false, code, keyId: record.id, permissions: record.permissions, ratelimit, credits, expires: record.keyExpiresAt };
}

/** Whether a found key may be used at all (the checks before IP, permissions and limits). */
export function isActive(record: KeyRecord, now = Date.now()): boolean {
  return !record.revoked && record.enabled && (record.expiresAt === null || record.expiresAt > now);
}
