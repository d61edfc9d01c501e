import type pg from 'pg';
import type { RateLimit } from '../../db/entities/api-key.js';

export interface RateLimitState {
  /** The limit reported: the one that refused, else the one with least room left. */
  name: string;
  limit: number;
  remaining: number;
  /** Epoch ms at which the current fixed window ends. */
  reset: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  state: RateLimitState;
}

interface Grant {
  allowed: boolean;
  remaining: number;
  reset: number;
  windowStart: number;
}

interface Waiter {
  resolve(grant: Grant): void;
  reject(err: unknown): void;
}

interface Queue {
  keyPk: string;
  limit: RateLimit;
  waiting: Waiter[];
  flushing: boolean;
}

/**
 * Sliding-window counter over two fixed windows: the request is allowed while
 * `count(current) + floor(count(previous) * share of the previous window still inside the sliding
 * window)` stays within the limit. The counter lives in PostgreSQL and moves with one atomic
 * upsert, so every API process shares it exactly; a refused request is not counted.
 *
 * Within a process, requests for the same key and limit that arrive while an upsert is in flight
 * wait and go together in the next one (`count + k`, capped at the allowance, returning how many
 * were granted): 200 concurrent callers cost a handful of round trips, not 200, and stay exact.
 */
// raw SQL: the sliding-window upsert run per verification on the verifier's own pg pool (a CTE feeding insert … on conflict with scalar subqueries; measured in BENCHMARKS.md)
const CONSUME_SQL = `
  with a as (
    select ($4::int - floor(coalesce((select c.count from rate_limit_counter c
                                       where c.key_pk = $1 and c.name = $2 and c.window_start = $3::bigint - $5::bigint), 0)
                              * $6::float8))::int as allowance
  )
  insert into rate_limit_counter as r (key_pk, name, window_start, count, granted, expires_at)
  select $1, $2, $3::bigint, least($7::int, a.allowance), least($7::int, a.allowance), $3::bigint + 2 * $5::bigint
    from a where a.allowance > 0
  on conflict (key_pk, name, window_start) do update
     set count = least(r.count + $7::int, greatest(r.count, (select allowance from a))),
         granted = least(r.count + $7::int, greatest(r.count, (select allowance from a))) - r.count
  returning r.count, r.granted, (select allowance from a) as allowance`;

// raw SQL: the refund of that hot path, on the same pool as the upsert it undoes
const REFUND_SQL = `update rate_limit_counter set count = greatest(count - 1, 0) where key_pk = $1 and name = $2 and window_start = $3`;

export class RateLimiter {
  private readonly queues = new Map<string, Queue>();
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly onQuery: () => void = () => {},
  ) {}

  /** Drops windows no sliding window can still see; any process may do it, repeats are harmless. */
  startPruning(everyMs = 60_000, onError: (err: unknown) => void = () => {}) {
    this.pruneTimer = setInterval(() => {
      this.onQuery();
      // raw SQL: pruning on the verifier's own pg pool, which has no EntityManager
      this.pool.query(`delete from rate_limit_counter where expires_at < $1`, [Date.now()]).catch(onError);
    }, everyMs);
    this.pruneTimer.unref();
  }

  stop() {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /**
   * Takes one request from every limit of the key, or none: when a later limit refuses, the
   * earlier ones are given back (a refund can only make a concurrent caller see less room, never more).
   */
  async consume(keyPk: string, limits: readonly RateLimit[]): Promise<RateLimitDecision> {
    const granted: { limit: RateLimit; grant: Grant }[] = [];
    let reported: RateLimitState | undefined;
    for (const limit of limits) {
      const grant = await this.take(keyPk, limit);
      const state = { name: limit.name, limit: limit.limit, remaining: grant.remaining, reset: grant.reset };
      if (!grant.allowed) {
        await Promise.all(granted.map((g) => this.refund(keyPk, g.limit, g.grant.windowStart)));
        return { allowed: false, state };
      }
      granted.push({ limit, grant });
      if (!reported || state.remaining < reported.remaining) reported = state;
    }
    return { allowed: true, state: reported! };
  }

  private take(keyPk: string, limit: RateLimit): Promise<Grant> {
    const id = `${keyPk}\u0000${limit.name}\u0000${limit.limit}\u0000${limit.windowSeconds}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { keyPk, limit, waiting: [], flushing: false }));
    const q = queue;
    const p = new Promise<Grant>((resolve, reject) => q.waiting.push({ resolve, reject }));
    if (!q.flushing) void this.flush(id, q);
    return p;
  }

  private async flush(id: string, q: Queue): Promise<void> {
    q.flushing = true;
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0);
      const windowMs = q.limit.windowSeconds * 1000;
      const now = Date.now();
      const windowStart = Math.floor(now / windowMs) * windowMs;
      const reset = windowStart + windowMs;
      const previousShare = 1 - (now - windowStart) / windowMs;
      try {
        let count = 0;
        let granted = 0;
        let allowance = 0;
        if (q.limit.limit > 0) {
          this.onQuery();
          const res = await this.pool.query<{ count: number; granted: number; allowance: number }>(CONSUME_SQL, [
            q.keyPk,
            q.limit.name,
            windowStart,
            q.limit.limit,
            windowMs,
            previousShare,
            batch.length,
          ]);
          const row = res.rows[0];
          if (row) ({ count, granted, allowance } = row);
        }
        const before = count - granted;
        batch.forEach((w, i) => {
          const allowed = i < granted;
          const remaining = allowed ? Math.max(0, allowance - (before + i + 1)) : 0;
          w.resolve({ allowed, remaining, reset, windowStart });
        });
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    q.flushing = false;
    this.queues.delete(id);
  }

  private async refund(keyPk: string, limit: RateLimit, windowStart: number) {
    this.onQuery();
    await this.pool.query(REFUND_SQL, [keyPk, limit.name, windowStart]);
  }
}
