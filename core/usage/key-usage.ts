import type { EntityManager } from '@mikro-orm/postgresql';
import type { RateLimit } from '../../db/entities/api-key.js';
import { HttpError } from '../errors.js';
import { keyCalls } from './queries.js';

export interface KeyUsage {
  calls_today: number;
  calls_month: number;
  rate_limits: { name: string; limit: number; window_seconds: number; used: number; remaining: number; reset_at: string }[];
  /** Null when the key is not metered. */
  credits_remaining: number | null;
}

interface CounterRow {
  name: string;
  window_start: string;
  count: number;
}

/**
 * Current use of each rate limit, read without consuming: the same sliding window the limiter
 * in core/keys/rate-limit.ts enforces (this window's count plus the previous window's count
 * weighted by the share of it still inside the sliding window).
 */
export async function rateLimitState(em: EntityManager, keyPk: string, limits: RateLimit[], now = Date.now()): Promise<KeyUsage['rate_limits']> {
  if (limits.length === 0) return [];
  const rows = await em.execute<CounterRow[]>(`select name, window_start::text as window_start, count from rate_limit_counter where key_pk = ?`, [keyPk]);
  const count = (name: string, start: number) => rows.find((r) => r.name === name && Number(r.window_start) === start)?.count ?? 0;
  return limits.map((l) => {
    const windowMs = l.windowSeconds * 1000;
    const start = Math.floor(now / windowMs) * windowMs;
    const previousShare = 1 - (now - start) / windowMs;
    const used = Math.min(l.limit, count(l.name, start) + Math.floor(count(l.name, start - windowMs) * previousShare));
    return { name: l.name, limit: l.limit, window_seconds: l.windowSeconds, used, remaining: Math.max(0, l.limit - used), reset_at: new Date(start + windowMs).toISOString() };
  });
}

export async function keyUsage(em: EntityManager, workspaceId: string, keyId: string, now = new Date()): Promise<KeyUsage> {
  const [key] = await em.execute<{ pk: string; rate_limits: RateLimit[] | null; credits: number | null }[]>(
    `select pk, rate_limits,
            case when credits_refill_amount is not null and credits_refill_interval in ('daily', 'monthly')
                  and coalesce(credits_refilled_at, created_at)
                      < date_trunc(case credits_refill_interval when 'daily' then 'day' else 'month' end, now() at time zone 'utc') at time zone 'utc'
                 then credits_refill_amount else credits_remaining end as credits
       from api_key where workspace_id = ? and id = ?`,
    [workspaceId, keyId],
  );
  if (!key) throw new HttpError(404, 'not_found', `API key '${keyId.slice(0, 64)}' was not found`);
  const [calls, rateLimits] = await Promise.all([keyCalls(em, workspaceId, keyId, now), rateLimitState(em, key.pk, key.rate_limits ?? [], now.getTime())]);
  return { calls_today: calls.today, calls_month: calls.month, rate_limits: rateLimits, credits_remaining: key.credits };
}
