import type { RateLimit } from '../../db/entities/api-key.js';
import { badRequest } from '../errors.js';
import { effectiveKeyRateLimits } from '../plans/effective.js';
import type { WorkspaceLimits } from '../plans/limits-cache.js';
import type { QuotaDecision, QuotaName, SharedRateGrant } from '../plans/quota.js';
import { chargeCredits } from './credits.js';
import type { KeyRecord } from './key-record.js';
import { parsePermissionExprCached, PermissionSyntaxError, satisfies, type PermissionExpr } from '../../packages/express/src/permission-expr.js';
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
  /**
   * The secret's key when the caller has just looked it up (the token endpoint authenticates the
   * client first): the secret is not hashed and looked up a second time.
   */
  record?: KeyRecord;
}

export interface VerifyResult {
  valid: boolean;
  code: VerifyCode;
  keyId: string | null;
  permissions: string[];
  /**
   * The rate limit that refused, else the one with least room left, of the key's own (its plan's
   * ceilings included) and the workspace's shared ones; null when neither has any.
   */
  ratelimit: VerifyRateLimit | null;
  /** The workspace's monthly allowance that refused, else its call quota (or credit grant); null when its plan sets neither. */
  quota: VerifyQuota | null;
  /** Credits left; null when the key is not metered (or was not found). */
  credits: number | null;
  /** Epoch ms of the key's expiry; null when it never expires. */
  expires: number | null;
}

export interface VerifyRateLimit {
  /** `key`: the key's own limit or its plan's per-key ceiling (`plan:60s`); `workspace`: shared by all the workspace's keys (`workspace:60s`). */
  scope: 'key' | 'workspace';
  name: string;
  limit: number;
  remaining: number;
  /** Epoch ms at which the current window ends. */
  reset: number;
}

export interface VerifyQuota {
  scope: 'workspace';
  /** `monthly_calls` (the plan's call quota) or `monthly_credits` (its credit grant). */
  name: QuotaName;
  limit: number;
  remaining: number;
  /** Epoch ms of the start of the next UTC month. */
  reset: number;
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
  quota: null,
  credits: null,
  expires: null,
}) as VerifyResult;

/**
 * Verifies a key the way a customer's API asks: VALID, or the first check that failed. A found,
 * active key answers from memory unless it has rate limits (one batched upsert) or credits (one
 * atomic UPDATE, only once the rate limits passed).
 *
 * Then its workspace's plan, from memory too (core/plans/limits-cache.ts): the key's limits held to
 * the plan's per-key ceilings, the workspace's shared rate limits (one batched upsert), its monthly
 * call quota and credit grant (one batched statement on the month's row), and last the key's own
 * credits. A workspace without a plan adds a map look-up and no query.
 */
export async function verifyKey(input: VerifyInput, deps: VerifyDeps): Promise<VerifyResult> {
  return verifyKeyNow(input, deps);
}

/**
 * verifyKey without a promise where nothing waits on PostgreSQL: a cached key, its workspace's
 * limits in memory and its counters decided from their leases, which is every verification of a
 * busy key. Each async step cost the verify fast path a promise and microtask turns; with its body
 * read by callbacks and the caller's principal cheaper, the fast path serves ~9 % more verifications
 * a second (BENCHMARKS.md, "The verify path without promises").
 * Throws (a 400) rather than rejecting on bad input; verifyKey turns that into a rejection.
 */
export function verifyKeyNow(input: VerifyInput, deps: VerifyDeps): VerifyResult | Promise<VerifyResult> {
  const cost = input.cost ?? 1;
  if (!Number.isInteger(cost) || cost < 0 || cost > MAX_COST) throw badRequest(`cost: expected an integer from 0 to ${MAX_COST}`, 'cost');
  const expr = input.permission === undefined ? undefined : parsePermissionInput(input.permission);
  const found = input.record ?? deps.verifier.lookup(input.secret);
  return found instanceof Promise ? found.then((record) => checkKey(input, cost, expr, record, deps.verifier)) : checkKey(input, cost, expr, found, deps.verifier);
}

/** The key's own checks, in VERIFY_CODES order, then its workspace's limits. */
function checkKey(input: VerifyInput, cost: number, expr: PermissionExpr | undefined, record: KeyRecord | undefined, v: KeyVerifier): VerifyResult | Promise<VerifyResult> {
  if (!record || record.revoked || record.workspaceId !== input.workspaceId) return { ...NOT_FOUND, permissions: [] };

  if (!record.enabled) return refuse(record, 'DISABLED', null, null);
  if (record.expiresAt !== null && record.expiresAt <= Date.now()) return refuse(record, 'EXPIRED', null, null);
  if (record.hasAllowlist && !record.allowlist.allows(input.ip)) return refuse(record, 'FORBIDDEN', null, null);
  if (expr && !satisfies(expr, record.scopes)) return refuse(record, 'INSUFFICIENT_PERMISSIONS', null, null);

  const limitsFound = v.limits.get(record.workspaceId);
  return limitsFound instanceof Promise ? limitsFound.then((ws) => takeLimits(record, ws, cost, v)) : takeLimits(record, limitsFound, cost, v);
}

/**
 * The key's counters, the workspace's and its month are independent: under a plan they are asked
 * at once, so a verification waits for one round trip rather than three. They are then read in
 * the order of the checks (decide()); whatever a later check took is given back when an earlier
 * one refused. The usual plan (a quota and one shared rate limit) takes both in one statement.
 */
function takeLimits(record: KeyRecord, ws: WorkspaceLimits, cost: number, v: KeyVerifier): VerifyResult | Promise<VerifyResult> {
  const keyLimits = ws.limits.keyRateLimits.length === 0 ? record.rateLimits : limitsWithCeilings(record, ws);
  const { monthlyCalls, monthlyCredits } = ws.limits;
  const monthly = monthlyCalls !== null || monthlyCredits !== null;
  const combined = monthly && ws.rateLimits.length === 1 ? ws.rateLimits[0] : undefined;
  const keyAsk = keyLimits.length > 0 ? v.limiter.consume(record.pk, keyLimits) : undefined;
  const wsAsk = ws.rateLimits.length > 0 && !combined ? v.workspaceLimiter.consume(record.workspaceId, ws.rateLimits) : undefined;
  const quotaAsk = monthly ? v.quota.charge(record.workspaceId, monthlyCalls, monthlyCredits, cost, combined) : undefined;
  if (keyAsk instanceof Promise || wsAsk instanceof Promise || quotaAsk instanceof Promise) {
    return Promise.all([keyAsk, wsAsk, quotaAsk]).then(([keyD, wsD, quotaD]) => decide(record, ws, cost, v, keyD, wsD, quotaD));
  }
  return decide(record, ws, cost, v, keyAsk, wsAsk, quotaAsk);
}

/** The limits' answers in the order of the checks, then the key's credits. */
function decide(
  record: KeyRecord,
  ws: WorkspaceLimits,
  cost: number,
  v: KeyVerifier,
  keyD: Decision | undefined,
  wsD0: Decision | undefined,
  quotaD: QuotaDecision | undefined,
): VerifyResult | Promise<VerifyResult> {
  const wsD = wsD0 ?? (quotaD?.rate ? sharedDecision(record.workspaceId, quotaD.rate) : undefined);

  let ratelimit: VerifyRateLimit | null = null;
  if (keyD) {
    const { name, limit, remaining, reset } = keyD.state;
    ratelimit = { scope: 'key', name, limit, remaining, reset };
    if (!keyD.allowed) {
      const refused = ratelimit;
      return giveBack(v, record.workspaceId, undefined, wsD, quotaD, cost).then(() => refuse(record, 'RATE_LIMITED', refused, null, null));
    }
  }
  if (wsD) {
    const { name, limit, remaining, reset } = wsD.state;
    const shared: VerifyRateLimit = { scope: 'workspace', name, limit, remaining, reset };
    if (!wsD.allowed) {
      // All or nothing, as among a key's own limits: the key's room (and the month's call) go back.
      return giveBack(v, record.workspaceId, keyD, undefined, quotaD, cost).then(() => refuse(record, 'RATE_LIMITED', shared, null, null));
    }
    if (!ratelimit || shared.remaining < ratelimit.remaining) ratelimit = shared;
  }

  const { monthlyCalls, monthlyCredits } = ws.limits;
  let quota: VerifyQuota | null = null;
  if (quotaD) {
    quota = quotaView(quotaD, monthlyCalls, monthlyCredits);
    // A refusal here keeps the rate-limit room taken, as a refusal for the key's credits does.
    if (!quotaD.allowed) return refuse(record, 'USAGE_EXCEEDED', ratelimit, null, quota);
  }

  if (record.metered) return chargeKey(record, cost, v, ratelimit, quota, quotaD, monthlyCalls, monthlyCredits);
  v.touches.touch(record.pk);
  return { valid: true, code: 'VALID', keyId: record.id, permissions: record.permissions, ratelimit, quota, credits: null, expires: record.keyExpiresAt };
}

/** Last, the key's own credits: one atomic UPDATE, only once every limit passed. */
async function chargeKey(
  record: KeyRecord,
  cost: number,
  v: KeyVerifier,
  ratelimit: VerifyRateLimit | null,
  quota: VerifyQuota | null,
  charged: QuotaDecision | undefined,
  monthlyCalls: number | null,
  monthlyCredits: number | null,
): Promise<VerifyResult> {
  const charge = await chargeCredits(v.pool, record.pk, cost, () => v.queries++);
  const credits = charge.remaining;
  if (!charge.charged) {
    // Not a call the workspace made: its month gets the call and the credits back.
    if (charged) {
      await v.quota.refund(record.workspaceId, charged, cost);
      quota = quotaView({ ...charged, calls: charged.calls - 1, credits: charged.credits - cost }, monthlyCalls, monthlyCredits);
    }
    return refuse(record, 'USAGE_EXCEEDED', ratelimit, credits, quota);
  }
  v.touches.touch(record.pk);
  return { valid: true, code: 'VALID', keyId: record.id, permissions: record.permissions, ratelimit, quota, credits, expires: record.keyExpiresAt };
}

type Decision = Awaited<ReturnType<KeyVerifier['limiter']['consume']>>;

/** The shared rate limit as the combined statement took it, in the rate limiter's terms (for refusals and give-backs). */
function sharedDecision(workspaceId: string, r: SharedRateGrant): Decision {
  const state = { name: r.limit.name, limit: r.limit.limit, remaining: r.remaining, reset: r.reset };
  return r.allowed ? { allowed: true, state, grants: { owner: workspaceId, taken: [{ limit: r.limit, windowStart: r.windowStart }] } } : { allowed: false, state };
}

/** Returns what the checks after a refusing one took: rate-limit room and the month's call. */
async function giveBack(v: KeyVerifier, workspaceId: string, key: Decision | undefined, shared: Decision | undefined, month: QuotaDecision | undefined, cost: number) {
  await Promise.all([
    key?.grants ? v.limiter.release(key.grants) : undefined,
    shared?.grants ? v.workspaceLimiter.release(shared.grants) : undefined,
    month?.allowed ? v.quota.refund(workspaceId, month, cost) : undefined,
  ]);
}

/** The key's own limits plus each plan ceiling they do not imply, worked out once per key record and limits load. */
const withCeilings = new WeakMap<KeyRecord, { ws: WorkspaceLimits; limits: RateLimit[] }>();
function limitsWithCeilings(record: KeyRecord, ws: WorkspaceLimits): RateLimit[] {
  const memo = withCeilings.get(record);
  if (memo && memo.ws === ws) return memo.limits;
  const limits = effectiveKeyRateLimits(record.rateLimits, ws.limits.keyRateLimits);
  withCeilings.set(record, { ws, limits });
  return limits;
}

/** The allowance that refused, else the call quota when there is one, else the credit grant. */
function quotaView(d: QuotaDecision, calls: number | null, credits: number | null): VerifyQuota {
  const name: QuotaName = d.refusedBy ?? (calls !== null ? 'monthly_calls' : 'monthly_credits');
  const limit = name === 'monthly_calls' ? calls! : credits!;
  const used = name === 'monthly_calls' ? d.calls : d.credits;
  return { scope: 'workspace', name, limit, remaining: Math.max(0, limit - used), reset: d.reset };
}

/** A module-level function rather than a closure per call: this runs on every verification. */
function refuse(record: KeyRecord, code: VerifyCode, ratelimit: VerifyRateLimit | null, credits: number | null, quota: VerifyQuota | null = null): VerifyResult {
  return { valid: false, code, keyId: record.id, permissions: record.permissions, ratelimit, quota, credits, expires: record.keyExpiresAt };
}

/** Whether a found key may be used at all (the checks before IP, permissions and limits). */
export function isActive(record: KeyRecord, now = Date.now()): boolean {
  return !record.revoked && record.enabled && (record.expiresAt === null || record.expiresAt > now);
}
