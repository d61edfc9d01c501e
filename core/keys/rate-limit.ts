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
  /** The key's pk or the workspace's id. */
  owner: string;
  limit: RateLimit;
  waiting: Waiter[];
  flushing: boolean;
}

/** A table of sliding-window counters and the column naming whose they are (a key's, a workspace's). */
export interface CounterTable {
  table: 'rate_limit_counter' | 'workspace_rate_counter';
  owner: 'key_pk' | 'workspace_id';
}

export const KEY_COUNTERS: CounterTable = { table: 'rate_limit_counter', owner: 'key_pk' };
export const WORKSPACE_COUNTERS: CounterTable = { table: 'workspace_rate_counter', owner: 'workspace_id' };

/**
 * The statements for one counter table. Both tables have the same shape, so one template serves
 * both; the names come from the two constants above, never from input.
 */
function counterSql({ table, owner }: CounterTable) {
  return {
    /** Prepared once per connection under this name: PostgreSQL plans the CTE once, not per batch. */
    consumeName: `gatehouse-consume-${table}`,
    // raw SQL: the sliding-window upsert run per verification on the verifier's own pg pool (a CTE feeding insert … on conflict with scalar subqueries; measured in BENCHMARKS.md)
    consume: `
  with a as (
    select ($4::int - floor(coalesce((select c.count from ${table} c
                                       where c.${owner} = $1 and c.name = $2 and c.window_start = $3::bigint - $5::bigint), 0)
                              * $6::float8))::int as allowance
  )
  insert into ${table} as r (${owner}, name, window_start, count, granted, expires_at)
  select $1, $2, $3::bigint, least($7::int, a.allowance), least($7::int, a.allowance), $3::bigint + 2 * $5::bigint
    from a where a.allowance > 0
  on conflict (${owner}, name, window_start) do update
     set count = least(r.count + $7::int, greatest(r.count, (select allowance from a))),
         granted = least(r.count + $7::int, greatest(r.count, (select allowance from a))) - r.count
  returning r.count, r.granted, (select allowance from a) as allowance`,
    // raw SQL: the refund of that hot path, on the same pool as the upsert it undoes
    refund: `update ${table} set count = greatest(count - 1, 0) where ${owner} = $1 and name = $2 and window_start = $3`,
    // raw SQL: pruning on the verifier's own pg pool, which has no EntityManager
    prune: `delete from ${table} where expires_at < $1`,
  };
}

/** What one consume() took, so that a later refusal elsewhere (the workspace's limits) can give it back. */
export interface RateLimitGrants {
  owner: string;
  taken: { limit: RateLimit; windowStart: number }[];
}

/**
 * Sliding-window counter over two fixed windows: the request is allowed while
 * `count(current) + floor(count(previous) * share of the previous window still inside the sliding
 * window)` stays within the limit. The counter lives in PostgreSQL and moves with one atomic
 * upsert, so every API process shares it exactly; a refused request is not counted.
 *
 * Within a process, requests for the same owner and limit that arrive while an upsert is in flight
 * wait and go together in the next one (`count + k`, capped at the allowance, returning how many
 * were granted): 200 concurrent callers cost a handful of round trips, not 200, and stay exact.
 *
 * One limiter per counter table: the keys' own limits (rate_limit_counter) and the limits a
 * workspace's keys share (workspace_rate_counter), the same statements on each.
 */
export class RateLimiter {
  private readonly queues = new Map<string, Queue>();
  private readonly sql: ReturnType<typeof counterSql>;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly onQuery: () => void = () => {},
    counters: CounterTable = KEY_COUNTERS,
  ) {
    this.sql = counterSql(counters);
  }

  /** Drops windows no sliding window can still see; any process may do it, repeats are harmless. */
  startPruning(everyMs = 60_000, onError: (err: unknown) => void = () => {}) {
    this.pruneTimer = setInterval(() => {
      this.onQuery();
      this.pool.query(this.sql.prune, [Date.now()]).catch(onError);
    }, everyMs);
    this.pruneTimer.unref();
  }

  stop() {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /**
   * Takes one request from every limit of the owner (a key, a workspace), or none: when a later
   * limit refuses, the earlier ones are given back (a refund can only make a concurrent caller see
   * less room, never more). An allowed decision carries its grants, for release() when a check
   * after this one refuses.
   */
  async consume(owner: string, limits: readonly RateLimit[]): Promise<RateLimitDecision & { grants?: RateLimitGrants }> {
    const taken: RateLimitGrants['taken'] = [];
    let reported: RateLimitState | undefined;
    for (const limit of limits) {
      const grant = await this.take(owner, limit);
      const state = { name: limit.name, limit: limit.limit, remaining: grant.remaining, reset: grant.reset };
      if (!grant.allowed) {
        await this.release({ owner, taken });
        return { allowed: false, state };
      }
      taken.push({ limit, windowStart: grant.windowStart });
      if (!reported || state.remaining < reported.remaining) reported = state;
    }
    return { allowed: true, state: reported!, grants: { owner, taken } };
  }

  /** Gives back what consume() took. */
  async release(grants: RateLimitGrants): Promise<void> {
    await Promise.all(grants.taken.map((g) => this.refund(grants.owner, g.limit, g.windowStart)));
  }

  private take(owner: string, limit: RateLimit): Promise<Grant> {
    const id = `${owner}\u0000${limit.name}\u0000${limit.limit}\u0000${limit.windowSeconds}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { owner, limit, waiting: [], flushing: false }));
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
          const res = await this.pool.query<{ count: number; granted: number; allowance: number }>({ name: this.sql.consumeName, text: this.sql.consume }, [
            q.owner,
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

  private async refund(owner: string, limit: RateLimit, windowStart: number) {
    this.onQuery();
    await this.pool.query(this.sql.refund, [owner, limit.name, windowStart]);
  }
}
