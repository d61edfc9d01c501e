import type pg from 'pg';
import type { RateLimit } from '../../db/entities/api-key.js';
import { LEASE_MAX_AGE_MS, LeaseReturns, leaseSize } from './lease.js';

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
  /** What an allowed decision took, for release() when a later check refuses. */
  grants?: RateLimitGrants;
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

/**
 * One owner's counter for one limit in this process: the requests waiting for the statement in
 * flight, and the lease (room counted in PostgreSQL for `windowStart`, not yet handed out).
 */
interface Slot {
  /** The key's pk or the workspace's id. */
  owner: string;
  limit: RateLimit;
  waiting: Waiter[];
  flushing: boolean;
  held: number;
  windowStart: number;
  reset: number;
  allowance: number;
  /** The window's count up to the last request handed out: the next one leaves `allowance - counted - 1`. */
  counted: number;
  /** When the last statement was sent (undefined before the first), and requests handed out since. */
  leasedAt: number | undefined;
  handed: number;
  /** Room left after the last statement, its lease included. */
  headroom: number;
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
    // raw SQL: the refund of that hot path (a refused request's room, a lease's unused room), on the same pool as the upsert it undoes
    refund: `update ${table} set count = greatest(count - $4::int, 0) where ${owner} = $1 and name = $2 and window_start = $3`,
    // raw SQL: pruning on the verifier's own pg pool, which has no EntityManager
    prune: `delete from ${table} where expires_at < $1`,
  };
}

/** What one consume() took, so that a later refusal elsewhere (the workspace's limits) can give it back. */
export interface RateLimitGrants {
  owner: string;
  taken: { limit: RateLimit; windowStart: number }[];
}

export interface RateLimiterOptions {
  /** Called before each statement sent, for the verifier's count. */
  onQuery?: () => void;
  /** A statement that failed outside any request (pruning, giving back a lease). */
  onError?: (err: unknown) => void;
  counters?: CounterTable;
}

/**
 * Sliding-window counter over two fixed windows: the request is allowed while
 * `count(current) + floor(count(previous) * share of the previous window still inside the sliding
 * window)` stays within the limit. The counter lives in PostgreSQL and moves with one atomic
 * upsert, so every API process shares it; a refused request is not counted.
 *
 * Within a process, requests for the same owner and limit that arrive while an upsert is in flight
 * wait and go together in the next one (`count + k`, capped at the allowance, returning how many
 * were granted): 200 concurrent callers cost a handful of round trips, not 200.
 *
 * A busy counter far from its limit also asks for a little more than is waiting (a lease,
 * core/keys/lease.ts) and hands that out from memory, with no round trip, until it runs out, the
 * window ends or a second has passed; unused room goes back. Leased room is counted before it is
 * handed out, so no limit is ever exceeded; within 8 of a limit nothing is leased, so the last
 * requests before it are decided by PostgreSQL one batch at a time, exact across processes.
 *
 * One limiter per counter table: the keys' own limits (rate_limit_counter) and the limits a
 * workspace's keys share (workspace_rate_counter), the same statements on each.
 */
export class RateLimiter {
  /**
   * By owner, then by limit (sameLimit): found without building a string per request. An id string
   * made per request was promoted out of the young generation before it died (on the verify fast
   * path, 12 of 19 MB that only a full collection freed), and the API's paced-phase stalls are its
   * full collections (BENCHMARKS.md, "Per-request strings that only a full collection freed").
   */
  private readonly slots = new Map<string, Slot[]>();
  private readonly returning = new LeaseReturns();
  private readonly sql: ReturnType<typeof counterSql>;
  private readonly onQuery: () => void;
  private readonly onError: (err: unknown) => void;
  private pruneTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Set by stop(): a statement still in flight then asks for no lease it could not give back. */
  private stopping = false;

  constructor(
    private readonly pool: pg.Pool,
    opts: RateLimiterOptions = {},
  ) {
    this.sql = counterSql(opts.counters ?? KEY_COUNTERS);
    this.onQuery = opts.onQuery ?? (() => {});
    this.onError = opts.onError ?? (() => {});
  }

  /**
   * Drops windows no sliding window can still see (any process may do it, repeats are harmless),
   * and gives back leases nobody used for a second.
   */
  start(pruneEveryMs = 60_000) {
    this.pruneTimer = setInterval(() => {
      this.onQuery();
      this.pool.query(this.sql.prune, [Date.now()]).catch(this.onError);
    }, pruneEveryMs);
    this.pruneTimer.unref();
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), LEASE_MAX_AGE_MS);
    this.sweepTimer.unref();
  }

  /** Stops the timers and gives back every lease, so a restart does not hold room it will never use. */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    clearInterval(this.sweepTimer);
    this.stopping = true;
    await this.sweep(Infinity);
  }

  /** Room this process holds for `owner`'s limits, counted but not handed out, or still on its way back (tests, docs). */
  leased(owner: string): number {
    let sum = this.returning.get(owner);
    for (const s of this.slots.get(owner) ?? []) sum += s.held;
    return sum;
  }

  /**
   * Takes one request from every limit of the owner (a key, a workspace), or none: when a later
   * limit refuses, the earlier ones are given back (a refund can only make a concurrent caller see
   * less room, never more). An allowed decision carries its grants, for release() when a check
   * after this one refuses. Answered without a promise when every limit has leased room.
   */
  consume(owner: string, limits: readonly RateLimit[]): RateLimitDecision | Promise<RateLimitDecision> {
    const taken: RateLimitGrants['taken'] = [];
    let reported: RateLimitState | undefined;
    const now = Date.now();
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      const slot = this.slotOf(owner, limit);
      const grant = slot && this.fromLease(slot, now);
      if (!grant) return this.consumeFrom(i, owner, limits, taken, reported);
      taken.push({ limit, windowStart: grant.windowStart });
      if (!reported || grant.remaining < reported.remaining) reported = { name: limit.name, limit: limit.limit, remaining: grant.remaining, reset: grant.reset };
    }
    return { allowed: true, state: reported!, grants: { owner, taken } };
  }

  private async consumeFrom(
    first: number,
    owner: string,
    limits: readonly RateLimit[],
    taken: RateLimitGrants['taken'],
    reported: RateLimitState | undefined,
  ): Promise<RateLimitDecision> {
    for (let i = first; i < limits.length; i++) {
      const limit = limits[i]!;
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
    await Promise.all(grants.taken.map((g) => this.refund(grants.owner, g.limit, g.windowStart, 1)));
  }

  /** A request handed out from the slot's lease, if it has fresh room in the current window. */
  private fromLease(s: Slot, now: number): Grant | undefined {
    if (s.held === 0 || now >= s.reset || now - s.leasedAt! >= LEASE_MAX_AGE_MS) return undefined;
    s.held--;
    s.handed++;
    s.counted++;
    return { allowed: true, remaining: Math.max(0, s.allowance - s.counted), reset: s.reset, windowStart: s.windowStart };
  }

  private take(owner: string, limit: RateLimit): Grant | Promise<Grant> {
    let slot = this.slotOf(owner, limit);
    if (!slot) {
      slot = { owner, limit, waiting: [], flushing: false, held: 0, windowStart: 0, reset: 0, allowance: 0, counted: 0, leasedAt: undefined, handed: 0, headroom: 0 };
      const owned = this.slots.get(owner);
      if (owned) owned.push(slot);
      else this.slots.set(owner, [slot]);
    }
    const leased = this.fromLease(slot, Date.now());
    if (leased) return leased;
    const s = slot;
    const p = new Promise<Grant>((resolve, reject) => s.waiting.push({ resolve, reject }));
    if (!s.flushing) void this.flush(s);
    return p;
  }

  private async flush(s: Slot): Promise<void> {
    s.flushing = true;
    while (s.waiting.length > 0) {
      const waiting = s.waiting.splice(0);
      const now = Date.now();
      // Room leased by the statement that just answered goes to those who queued behind it.
      let served = 0;
      for (let grant; served < waiting.length && (grant = this.fromLease(s, now)); served++) waiting[served]!.resolve(grant);
      if (served === waiting.length) continue;
      const batch = served === 0 ? waiting : waiting.slice(served);
      if (s.held > 0) void this.giveBackLease(s);
      const windowMs = s.limit.windowSeconds * 1000;
      const windowStart = Math.floor(now / windowMs) * windowMs;
      const reset = windowStart + windowMs;
      const previousShare = 1 - (now - windowStart) / windowMs;
      const extra = this.stopping ? 0 : leaseSize(s.handed, s.leasedAt === undefined ? undefined : now - s.leasedAt, s.headroom, s.limit.limit);
      s.leasedAt = now;
      s.handed = 0;
      try {
        let count = 0;
        let granted = 0;
        let allowance = 0;
        if (s.limit.limit > 0) {
          this.onQuery();
          const res = await this.pool.query<{ count: number; granted: number; allowance: number }>({ name: this.sql.consumeName, text: this.sql.consume }, [
            s.owner,
            s.limit.name,
            windowStart,
            s.limit.limit,
            windowMs,
            previousShare,
            batch.length + extra,
          ]);
          const row = res.rows[0];
          if (row) ({ count, granted, allowance } = row);
        }
        const before = count - granted;
        const handed = Math.min(granted, batch.length);
        s.held = granted - handed;
        s.windowStart = windowStart;
        s.reset = reset;
        s.allowance = allowance;
        s.counted = before + handed;
        s.headroom = allowance - count;
        s.handed += handed;
        batch.forEach((w, i) => {
          const allowed = i < granted;
          const remaining = allowed ? Math.max(0, allowance - (before + i + 1)) : 0;
          w.resolve({ allowed, remaining, reset, windowStart });
        });
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    s.flushing = false;
  }

  /** Returns a lease's unused room to the window it was counted in; failures are only logged (the room comes back with the window). */
  private giveBackLease(s: Slot): Promise<void> {
    const n = s.held;
    s.held = 0;
    return this.returning.track(s.owner, n, this.refund(s.owner, s.limit, s.windowStart, n)).catch(this.onError);
  }

  /** Gives back leases older than LEASE_MAX_AGE_MS (all of them at `Infinity`) and forgets idle slots. */
  private async sweep(now: number): Promise<void> {
    const returns: Promise<void>[] = [];
    for (const [owner, owned] of this.slots) {
      const kept = owned.filter((s) => {
        if (s.flushing || (s.leasedAt !== undefined && now - s.leasedAt < LEASE_MAX_AGE_MS && now < s.reset)) return true;
        if (s.held > 0) returns.push(this.giveBackLease(s));
        return false;
      });
      if (kept.length === 0) this.slots.delete(owner);
      else if (kept.length < owned.length) this.slots.set(owner, kept);
    }
    await Promise.all(returns);
  }

  private slotOf(owner: string, limit: RateLimit): Slot | undefined {
    const owned = this.slots.get(owner);
    if (owned) for (let i = 0; i < owned.length; i++) if (sameLimit(owned[i]!.limit, limit)) return owned[i];
    return undefined;
  }

  private async refund(owner: string, limit: RateLimit, windowStart: number, n: number) {
    this.onQuery();
    await this.pool.query(this.sql.refund, [owner, limit.name, windowStart, n]);
  }
}

/** A limit is named by what it allows too: a changed limit starts a new slot (and its own lease). */
function sameLimit(a: RateLimit, b: RateLimit): boolean {
  return a === b || (a.name === b.name && a.limit === b.limit && a.windowSeconds === b.windowSeconds);
}
