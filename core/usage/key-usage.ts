import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { RateLimit } from '../../db/entities/api-key.js';
import { typedDb, type Row } from '../../db/kysely.js';
import { HttpError } from '../errors.js';
import { workspaceScope } from '../scope.js';
import { startOfNextUtcMonth, startOfUtcDay, startOfUtcMonth } from './queries.js';
import { lastRateWarnings, type RateWarning } from './rate-warnings.js';

export interface KeyUsage {
  callsToday: number;
  callsMonth: number;
  /** Of those calls, the ones a verification refused (rate limit, credits, disabled, …). */
  refusedToday: number;
  refusedMonth: number;
  rateLimits: { name: string; limit: number; windowSeconds: number; used: number; remaining: number; resetAt: string }[];
  /** Null when the key is not metered. */
  creditsRemaining: number | null;
  /**
   * Per limit, the last window in the past day that warned (≥ 80 % used, or exceeded with its
   * refusals), kept after the window rolled over; empty when none did.
   */
  rateWarnings: RateWarning[];
}

type CounterRow = Pick<Row<'rate_limit_counter'>, 'name' | 'window_start' | 'count'>;

/**
 * Current use of each rate limit, read without consuming: the same sliding window the limiter
 * in core/keys/rate-limit.ts enforces (this window's count plus the previous window's count
 * weighted by the share of it still inside the sliding window).
 */
function slidingState(rows: CounterRow[], limits: RateLimit[], now: number): KeyUsage['rateLimits'] {
  const count = (name: string, start: number) => rows.find((r) => r.name === name && Number(r.window_start) === start)?.count ?? 0;
  return limits.map((l) => {
    const windowMs = l.windowSeconds * 1000;
    const start = Math.floor(now / windowMs) * windowMs;
    const previousShare = 1 - (now - start) / windowMs;
    const used = Math.min(l.limit, count(l.name, start) + Math.floor(count(l.name, start - windowMs) * previousShare));
    return { name: l.name, limit: l.limit, windowSeconds: l.windowSeconds, used, remaining: Math.max(0, l.limit - used), resetAt: new Date(start + windowMs).toISOString() };
  });
}

/** At most this many keys per keysUsage call (a page of the keys list). */
export const MAX_KEYS_PER_USAGE_CALL = 500;

/**
 * Usage of many keys of one workspace in five queries, whatever their number: the keys and
 * usage pages show every key's figures at once. Ids of no key of the workspace are left out.
 */
export async function keysUsage(em: EntityManager, workspaceId: string, keyIds: string[], now = new Date()): Promise<Record<string, KeyUsage>> {
  if (keyIds.length === 0) return {};
  const scope = workspaceScope(em, workspaceId);
  const keys = await scope
    .selectFrom('api_key')
    .select((eb) => [
      'id',
      'pk',
      'rate_limits',
      // What verification would find: a refill that is due counts as done (core/keys/credits.ts).
      eb
        .case()
        .when(
          eb.and([
            eb('credits_refill_amount', 'is not', null),
            eb('credits_refill_interval', 'in', ['daily', 'monthly']),
            eb(
              eb.fn.coalesce('credits_refilled_at', 'created_at'),
              '<',
              sql<Date>`date_trunc(case ${eb.ref('credits_refill_interval')} when 'daily' then 'day' else 'month' end, now() at time zone 'utc') at time zone 'utc'`,
            ),
          ]),
        )
        .then(eb.ref('credits_refill_amount'))
        .else(eb.ref('credits_remaining'))
        .end()
        .as('credits'),
    ])
    .where((eb) => eb('id', '=', eb.fn.any(eb.val(keyIds))))
    .execute();
  if (keys.length === 0) return {};
  const limited = keys.filter((k) => (k.rate_limits ?? []).length > 0).map((k) => k.pk);
  const [calls, counters, warnings] = await Promise.all([
    scope
      .selectFrom('usage_day')
      .select((eb) => [
        'key_id',
        eb.fn.sum<string | null>('calls').filterWhere('bucket', '>=', startOfUtcDay(now)).as('today'),
        eb.fn.sum<string | null>('calls').as('month'),
        eb.fn.sum<string | null>('refused').filterWhere('bucket', '>=', startOfUtcDay(now)).as('refused_today'),
        eb.fn.sum<string | null>('refused').as('refused_month'),
      ])
      .where((eb) => eb('key_id', '=', eb.fn.any(eb.val(keys.map((k) => k.id)))))
      .where('bucket', '>=', startOfUtcMonth(now))
      .where('bucket', '<', startOfNextUtcMonth(now))
      .groupBy('key_id')
      .execute(),
    limited.length === 0
      ? Promise.resolve([])
      : // Counters belong to keys just found in this workspace (by pk).
        typedDb(em)
          .selectFrom('rate_limit_counter')
          .select(['key_pk', 'name', 'window_start', 'count'])
          .where((eb) => eb('key_pk', '=', eb.fn.any(eb.val(limited))))
          .execute(),
    lastRateWarnings(em, workspaceId, keys.map((k) => k.id), now),
  ]);
  const callsOf = new Map(calls.map((c) => [c.key_id, c]));
  const countersOf = new Map<string, CounterRow[]>();
  for (const r of counters) {
    const list = countersOf.get(r.key_pk);
    if (list) list.push(r);
    else countersOf.set(r.key_pk, [r]);
  }
  const out: Record<string, KeyUsage> = {};
  for (const k of keys) {
    const c = callsOf.get(k.id);
    out[k.id] = {
      callsToday: Number(c?.today ?? 0),
      callsMonth: Number(c?.month ?? 0),
      refusedToday: Number(c?.refused_today ?? 0),
      refusedMonth: Number(c?.refused_month ?? 0),
      rateLimits: slidingState(countersOf.get(k.pk) ?? [], k.rate_limits ?? [], now.getTime()),
      creditsRemaining: k.credits,
      rateWarnings: warnings.get(k.id) ?? [],
    };
  }
  return out;
}

export async function keyUsage(em: EntityManager, workspaceId: string, keyId: string, now = new Date()): Promise<KeyUsage> {
  const usage = (await keysUsage(em, workspaceId, [keyId], now))[keyId];
  if (!usage) throw new HttpError(404, 'not_found', `API key '${keyId.slice(0, 64)}' was not found`);
  return usage;
}
