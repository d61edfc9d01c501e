import type pg from 'pg';
import type { RateLimit } from '../../db/entities/api-key.js';
import { LEASE_MAX_AGE_MS, LeaseReturns, leaseSize } from '../keys/lease.js';
import { monthBounds } from './effective.js';

/** Which monthly allowance refused, or is reported: the call quota or the credit grant. */
export type QuotaName = 'monthly_calls' | 'monthly_credits';

export interface QuotaDecision {
  allowed: boolean;
  /** Set when refused: which allowance was used up. */
  refusedBy?: QuotaName;
  /** First day of the UTC month counted (`2026-12-01`), for a refund. */
  month: string;
  /** Epoch ms at which the month ends and both allowances start again. */
  reset: number;
  /** The workspace's calls and credits this month after this verification (as they stood, when refused). */
  calls: number;
  credits: number;
  /** Set when the workspace's one shared rate limit was taken in the same statement (chargeWithRate). */
  rate?: SharedRateGrant;
}

/** What the combined statement did with the workspace's shared rate limit for one verification. */
export interface SharedRateGrant {
  allowed: boolean;
  limit: RateLimit;
  remaining: number;
  /** Epoch ms at which the current window ends. */
  reset: number;
  windowStart: number;
}

interface Waiter {
  cost: number;
  resolve(d: QuotaDecision): void;
  reject(err: unknown): void;
}

interface Queue {
  workspaceId: string;
  calls: number | null;
  credits: number | null;
  rate: RateLimit | undefined;
  waiting: Waiter[];
  flushing: boolean;
  /** The lease: calls and credits counted in the month's row (and the shared rate limit's window), not yet handed out. */
  lease: Lease | undefined;
  /** When the last statement was sent (undefined before the first), and charges handed out since. */
  sentAt: number | undefined;
  handed: number;
  /** Room left after the last statement, in charges of cost 1, and in the rate limit's window. */
  headroom: number;
  rateHeadroom: number;
}

interface Lease {
  /** Calls held (each with its room in the shared rate limit), and credits held. */
  held: number;
  heldCredits: number;
  month: string;
  reset: number;
  /** The month's calls and credits up to the last charge handed out. */
  calls: number;
  credits: number;
  rate: { windowStart: number; reset: number; allowance: number; counted: number } | undefined;
}

/**
 * Counts a batch of verifications against the month's row in one statement. The row is locked
 * first (`for update` in a CTE: under READ COMMITTED it waits for a concurrent charge and reads the
 * row that charge left), so `old` is exactly what this statement adds to. Of the batch, the longest
 * prefix goes through whose calls stay within the quota and whose summed costs stay within the
 * credit grant; an update only happens when something was granted, so a workspace over its quota
 * costs a locked read, not a row version per refused call. No row: nothing is returned and the
 * caller inserts the month's row first.
 *
 * The statement commits without waiting for its WAL to reach disk (`synchronous_commit` off for
 * this transaction only, set by `set_config(…, true)` inside it): waiting for an fsync per batch
 * capped one workspace at ~7-11k charges/s, against ~40-50k without (measured on this machine, 32
 * callers). The cost is that a PostgreSQL crash may forget the last moment of counted calls (at most
 * three wal_writer_delay, 600 ms by default): a customer gets a fraction of a second back, never the
 * month, and nothing is ever corrupted.
 */
// raw SQL: the monthly quota and credit grant charge per verification batch on the verifier's own pg pool (measured in BENCHMARKS.md)
const CHARGE_SQL = `
  with nosync as materialized (select set_config('synchronous_commit', 'off', true))
  , old as materialized (
    select q.calls, q.credits from workspace_quota q where q.workspace_id = $1 and q.month = $2::date for update
  ), req as (
    select t.i, sum(t.c) over (order by t.i) as run from unnest($3::int[]) with ordinality as t(c, i)
  ), ok as (
    select count(*)::int as n, coalesce(max(req.run), 0)::bigint as cost
      from req, old
     where ($4::bigint is null or old.calls + req.i <= $4::bigint)
       and ($5::bigint is null or old.credits + req.run <= $5::bigint)
  ), upd as (
    update workspace_quota q set calls = q.calls + ok.n, credits = q.credits + ok.cost, updated_at = now()
      from ok where q.workspace_id = $1 and q.month = $2::date and ok.n > 0
    returning 1
  )
  select old.calls::bigint as calls, old.credits::bigint as credits, ok.n from old, ok, nosync`;

/** Prepared once per connection (a named statement): PostgreSQL plans its CTEs once, not per batch. */
const CHARGE = { name: 'gatehouse-quota-charge', text: CHARGE_SQL };

/**
 * The same charge with the workspace's one shared rate limit taken first, in the same statement:
 * the rate limiter's sliding-window upsert on workspace_rate_counter (core/keys/rate-limit.ts, whose
 * semantics it keeps: the first `granted` of the batch pass it), then the month's charge over those
 * only. One round trip per batch instead of two for the usual plan (a quota and one shared limit).
 */
// raw SQL: the quota charge and the shared rate limit's upsert per verification batch, one statement on the verifier's pool (measured in BENCHMARKS.md)
const CHARGE_WITH_RATE_SQL = `
  with nosync as materialized (select set_config('synchronous_commit', 'off', true))
  , a as (
    select ($8::int - floor(coalesce((select c.count from workspace_rate_counter c
                                       where c.workspace_id = $1 and c.name = $6 and c.window_start = $7::bigint - $9::bigint), 0)
                              * $10::float8))::int as allowance
  ), rl as (
    insert into workspace_rate_counter as r (workspace_id, name, window_start, count, granted, expires_at)
    select $1, $6, $7::bigint, least($11::int, a.allowance), least($11::int, a.allowance), $7::bigint + 2 * $9::bigint
      from a where a.allowance > 0
    on conflict (workspace_id, name, window_start) do update
       set count = least(r.count + $11::int, greatest(r.count, (select allowance from a))),
           granted = least(r.count + $11::int, greatest(r.count, (select allowance from a))) - r.count
    returning r.count, r.granted
  ), old as materialized (
    select q.calls, q.credits from workspace_quota q where q.workspace_id = $1 and q.month = $2::date for update
  ), req as (
    select t.i, sum(t.c) over (order by t.i) as run from unnest($3::int[]) with ordinality as t(c, i)
  ), ok as (
    select count(*)::int as n, coalesce(max(req.run), 0)::bigint as cost
      from req, old
     where req.i <= coalesce((select granted from rl), 0)
       and ($4::bigint is null or old.calls + req.i <= $4::bigint)
       and ($5::bigint is null or old.credits + req.run <= $5::bigint)
  ), upd as (
    update workspace_quota q set calls = q.calls + ok.n, credits = q.credits + ok.cost, updated_at = now()
      from ok where q.workspace_id = $1 and q.month = $2::date and ok.n > 0
    returning 1
  )
  select old.calls::bigint as calls, old.credits::bigint as credits, ok.n,
         coalesce((select count from rl), 0) as rl_count, coalesce((select granted from rl), 0) as rl_granted, (select allowance from a) as allowance
    from old, ok, nosync`;
const CHARGE_WITH_RATE = { name: 'gatehouse-quota-charge-rate', text: CHARGE_WITH_RATE_SQL };

// raw SQL: the month's row, made on the first charge of the month (the charge above needs a row to lock)
const CREATE_SQL = `insert into workspace_quota (workspace_id, month, calls, credits, updated_at) values ($1, $2::date, 0, 0, now()) on conflict do nothing`;

// raw SQL: gives back calls and credits: one verification's when a check after the charge refused it, or a lease's unused ones
const REFUND_SQL = `update workspace_quota set calls = greatest(calls - $4::bigint, 0), credits = greatest(credits - $3::bigint, 0), updated_at = now() where workspace_id = $1 and month = $2::date`;

// raw SQL: gives back a lease's unused room in the shared rate limit's window (as core/keys/rate-limit.ts refunds), on the same pool
const RATE_REFUND_SQL = `update workspace_rate_counter set count = greatest(count - $4::int, 0) where workspace_id = $1 and name = $2 and window_start = $3`;

/** `2026-12-01` for any time in December 2026 (UTC). */
export function monthKey(start: Date): string {
  return start.toISOString().slice(0, 10);
}

/**
 * A workspace's monthly call quota and credit grant, shared by all its keys and every API process.
 * Within a process, charges for the same workspace that arrive while a statement is in flight go
 * together in the next one, as the rate limiter batches: exact however many processes take part.
 *
 * A busy workspace far from its allowances also charges a few calls of cost 1 ahead (a lease,
 * bounded as the rate limiter's: core/keys/lease.ts), in the same statement, and hands them out from
 * memory: a verification takes one call and its cost in credits, while the lease holds them. Unused
 * ones go back within two seconds, at the month's (or rate window's) end, or at shutdown.
 */
export class QuotaCounter {
  /** By workspace, then by allowance (sameAllowance): found without a string built per verification (as RateLimiter's slots). */
  private readonly queues = new Map<string, Queue[]>();
  private readonly returning = new LeaseReturns();
  /** (workspace, month) rows this process has made sure exist: the combined statement must not run twice. */
  private readonly known = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly onQuery: () => void = () => {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Gives back leases nobody used for a second. */
  start() {
    this.sweepTimer = setInterval(() => void this.sweep(Date.now()), LEASE_MAX_AGE_MS);
    this.sweepTimer.unref();
  }

  /** Gives back every lease, so a restart does not hold calls it will never hand out. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.stopping = true;
    await this.sweep(Infinity);
  }

  /** Calls this process holds for the workspace, counted but not handed out, or still on their way back (tests, docs). */
  leased(workspaceId: string): number {
    let sum = this.returning.get(workspaceId);
    for (const q of this.queues.get(workspaceId) ?? []) sum += q.lease?.held ?? 0;
    return sum;
  }

  /**
   * Counts one verification of `cost` credits, or refuses it: the calls stop at `calls` a month and
   * the credits at `credits` (null = that one is not limited). Answered without a statement when a
   * lease holds a call and `cost` credits.
   */
  charge(workspaceId: string, calls: number | null, credits: number | null, cost: number, rate?: RateLimit): QuotaDecision | Promise<QuotaDecision> {
    const owned = this.queues.get(workspaceId);
    let queue: Queue | undefined;
    if (owned) for (let i = 0; i < owned.length && !queue; i++) if (sameAllowance(owned[i]!, calls, credits, rate)) queue = owned[i];
    if (!queue) {
      queue = { workspaceId, calls, credits, rate, waiting: [], flushing: false, lease: undefined, sentAt: undefined, handed: 0, headroom: 0, rateHeadroom: 0 };
      if (owned) owned.push(queue);
      else this.queues.set(workspaceId, [queue]);
    }
    const leased = this.fromLease(queue, Date.now(), cost);
    if (leased) return leased;
    const q = queue;
    const p = new Promise<QuotaDecision>((resolve, reject) => q.waiting.push({ cost, resolve, reject }));
    if (!q.flushing) void this.flush(q);
    return p;
  }

  /** Undoes one granted charge (a later check refused the verification). */
  async refund(workspaceId: string, d: QuotaDecision, cost: number): Promise<void> {
    this.onQuery();
    await this.pool.query(REFUND_SQL, [workspaceId, d.month, cost, 1]);
  }

  /** A charge handed out from the queue's lease, if it holds a call and `cost` credits, fresh, in the current month and rate window. */
  private fromLease(q: Queue, now: number, cost: number): QuotaDecision | undefined {
    const l = q.lease;
    if (!l || l.held === 0 || l.heldCredits < cost || now >= l.reset || now - q.sentAt! >= LEASE_MAX_AGE_MS || (l.rate && now >= l.rate.reset)) return undefined;
    l.held--;
    l.heldCredits -= cost;
    q.handed++;
    l.calls++;
    l.credits += cost;
    const d: QuotaDecision = { allowed: true, month: l.month, reset: l.reset, calls: l.calls, credits: l.credits };
    if (l.rate && q.rate) {
      const r = l.rate;
      r.counted++;
      d.rate = { allowed: true, limit: q.rate, remaining: Math.max(0, r.allowance - r.counted), reset: r.reset, windowStart: r.windowStart };
    }
    return d;
  }

  private async flush(q: Queue): Promise<void> {
    q.flushing = true;
    while (q.waiting.length > 0) {
      const waiting = q.waiting.splice(0);
      const now = Date.now();
      // What the statement that just answered leased goes to those who queued behind it.
      const batch: Waiter[] = [];
      for (const w of waiting) {
        const leased = this.fromLease(q, now, w.cost);
        if (leased) w.resolve(leased);
        else batch.push(w);
      }
      if (batch.length === 0) continue;
      if (q.lease && q.lease.held > 0) void this.giveBack(q);
      const extra = this.stopping ? 0 : this.leaseSize(q, now);
      q.sentAt = now;
      q.handed = 0;
      try {
        const retry = await this.run(q, batch, extra);
        // Refused on credits with cheaper calls behind: those go again, as they would have one by one.
        if (retry.length > 0) q.waiting.unshift(...retry);
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    q.flushing = false;
  }

  /** Extra charges of cost 1 to ask for: bounded by the calls, the credits and the shared rate limit alike. */
  private leaseSize(q: Queue, now: number): number {
    const elapsed = q.sentAt === undefined ? undefined : now - q.sentAt;
    const limit = Math.min(q.calls ?? Infinity, q.credits ?? Infinity);
    let extra = leaseSize(q.handed, elapsed, q.headroom, limit);
    if (q.rate) extra = Math.min(extra, leaseSize(q.handed, elapsed, q.rateHeadroom, q.rate.limit));
    return extra;
  }

  /** Returns a lease's unused calls, credits and rate-limit room; failures are only logged (the room comes back with the month or window). */
  private giveBack(q: Queue): Promise<void> {
    const l = q.lease!;
    const n = l.held;
    const credits = l.heldCredits;
    l.held = 0;
    l.heldCredits = 0;
    this.onQuery();
    const month = this.pool.query(REFUND_SQL, [q.workspaceId, l.month, credits, n]);
    const rate = l.rate && q.rate ? (this.onQuery(), this.pool.query(RATE_REFUND_SQL, [q.workspaceId, q.rate.name, l.rate.windowStart, n])) : undefined;
    return this.returning.track(q.workspaceId, n, Promise.all([month, rate])).catch(this.onError);
  }

  /** Gives back leases older than LEASE_MAX_AGE_MS (all of them at `Infinity`) and forgets idle queues. */
  private async sweep(now: number): Promise<void> {
    const returns: Promise<void>[] = [];
    for (const [workspaceId, owned] of this.queues) {
      const kept = owned.filter((q) => {
        if (q.flushing || (q.sentAt !== undefined && now - q.sentAt < LEASE_MAX_AGE_MS)) return true;
        if (q.lease && q.lease.held > 0) returns.push(this.giveBack(q));
        return false;
      });
      if (kept.length === 0) this.queues.delete(workspaceId);
      else if (kept.length < owned.length) this.queues.set(workspaceId, kept);
    }
    await Promise.all(returns);
  }

  /** Records what a statement granted beyond the batch as the queue's new lease. */
  private keep(q: Queue, extraGranted: number, lease: Omit<Lease, 'held' | 'heldCredits'>, headroom: number, rateHeadroom: number) {
    q.lease = { ...lease, held: extraGranted, heldCredits: extraGranted };
    q.headroom = headroom;
    q.rateHeadroom = rateHeadroom;
  }

  private async run(q: Queue, batch: Waiter[], extra: number): Promise<Waiter[]> {
    if (q.rate) return this.runWithRate(q, q.rate, batch, extra);
    const { start, end } = monthBounds();
    const month = monthKey(start);
    const reset = end.getTime();
    const params = [q.workspaceId, month, costsWithExtra(batch, extra), q.calls, q.credits];
    this.onQuery();
    let res = await this.pool.query<{ calls: string; credits: string; n: number }>(CHARGE, params);
    if (res.rows.length === 0 && (await this.createRow(q.workspaceId, month))) {
      this.onQuery();
      res = await this.pool.query<{ calls: string; credits: string; n: number }>(CHARGE, params);
    }
    const row = res.rows[0];
    // Still no row: the workspace is gone (its keys go with it); nothing to count against.
    if (!row) {
      batch.forEach((w) => w.resolve({ allowed: true, month, reset, calls: 0, credits: 0 }));
      return [];
    }
    let calls = Number(row.calls);
    let credits = Number(row.credits);
    const granted = Math.min(row.n, batch.length);
    for (let i = 0; i < granted; i++) {
      calls += 1;
      credits += batch[i]!.cost;
      q.handed++;
      batch[i]!.resolve({ allowed: true, month, reset, calls, credits });
    }
    const extraGranted = row.n - granted;
    const headroom = Math.min(q.calls === null ? Infinity : q.calls - calls - extraGranted, q.credits === null ? Infinity : q.credits - credits - extraGranted);
    this.keep(q, extraGranted, { month, reset, calls, credits, rate: undefined }, headroom, 0);
    if (granted === batch.length) return [];
    const first = batch[granted]!;
    const refusedBy: QuotaName = q.calls !== null && calls + 1 > q.calls ? 'monthly_calls' : 'monthly_credits';
    first.resolve({ allowed: false, refusedBy, month, reset, calls, credits });
    const rest = batch.slice(granted + 1);
    const at = { month, reset, calls, credits };
    return refusedBy === 'monthly_credits' ? this.refuseAbove(rest, first.cost, at) : this.refuseAll(rest, refusedBy, at);
  }

  /**
   * Makes the month's row; false when the workspace no longer exists (a foreign-key violation: it was
   * deleted while one of its keys was still cached), which leaves nothing to count against rather
   * than failing the verification with a 500.
   */
  private async createRow(workspaceId: string, month: string): Promise<boolean> {
    this.onQuery();
    try {
      await this.pool.query(CREATE_SQL, [workspaceId, month]);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === '23503') return false;
      throw err;
    }
  }

  /**
   * The combined statement. Waiters past the rate limit's grant are refused by it (and took nothing);
   * of the rest, those past the quota's prefix are refused by it and keep the rate-limit room they
   * took, as in verification's order of checks. Unlike run(), cheaper calls behind a refusal for
   * credits are not tried again here (that would take rate-limit room twice): they are refused too.
   */
  private async runWithRate(q: Queue, rate: RateLimit, batch: Waiter[], extra: number): Promise<Waiter[]> {
    const now = Date.now();
    const { start, end } = monthBounds(now);
    const month = monthKey(start);
    const reset = end.getTime();
    const monthRow = `${q.workspaceId}\u0000${month}`;
    if (!this.known.has(monthRow)) {
      if (!(await this.createRow(q.workspaceId, month))) {
        batch.forEach((w) => w.resolve({ allowed: true, month, reset, calls: 0, credits: 0 }));
        return [];
      }
      if (this.known.size >= 50_000) this.known.clear();
      this.known.add(monthRow);
    }
    const windowMs = rate.windowSeconds * 1000;
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const rateReset = windowStart + windowMs;
    const previousShare = 1 - (now - windowStart) / windowMs;
    this.onQuery();
    const res = await this.pool.query<{ calls: string; credits: string; n: number; rl_count: number; rl_granted: number; allowance: number }>(CHARGE_WITH_RATE, [
      q.workspaceId,
      month,
      costsWithExtra(batch, extra),
      q.calls,
      q.credits,
      rate.name,
      windowStart,
      rate.limit,
      windowMs,
      previousShare,
      batch.length + extra,
    ]);
    const row = res.rows[0];
    if (!row) {
      // The month's row is gone (the workspace was deleted): nothing left to count against.
      this.known.delete(monthRow);
      batch.forEach((w) => w.resolve({ allowed: true, month, reset, calls: 0, credits: 0 }));
      return [];
    }
    let calls = Number(row.calls);
    let credits = Number(row.credits);
    const before = row.rl_count - row.rl_granted;
    const rateOf = (i: number): SharedRateGrant =>
      i < row.rl_granted
        ? { allowed: true, limit: rate, remaining: Math.max(0, row.allowance - (before + i + 1)), reset: rateReset, windowStart }
        : { allowed: false, limit: rate, remaining: 0, reset: rateReset, windowStart };
    const granted = Math.min(row.n, batch.length);
    for (let i = 0; i < granted; i++) {
      calls += 1;
      credits += batch[i]!.cost;
      q.handed++;
      batch[i]!.resolve({ allowed: true, month, reset, calls, credits, rate: rateOf(i) });
    }
    // The extras that passed both are the lease; those the rate limit passed and the quota did not go back at once.
    const extraGranted = row.n - granted;
    const rateExtra = Math.max(0, row.rl_granted - batch.length);
    if (rateExtra > extraGranted) {
      this.onQuery();
      this.pool.query(RATE_REFUND_SQL, [q.workspaceId, rate.name, windowStart, rateExtra - extraGranted]).catch(this.onError);
    }
    const headroom = Math.min(q.calls === null ? Infinity : q.calls - calls - extraGranted, q.credits === null ? Infinity : q.credits - credits - extraGranted);
    const counted = before + Math.min(row.rl_granted, batch.length);
    this.keep(q, extraGranted, { month, reset, calls, credits, rate: { windowStart, reset: rateReset, allowance: row.allowance, counted } }, headroom, row.allowance - row.rl_count);
    const refusedBy: QuotaName = q.calls !== null && calls + 1 > q.calls ? 'monthly_calls' : 'monthly_credits';
    for (let i = granted; i < batch.length; i++) {
      const r = rateOf(i);
      batch[i]!.resolve(r.allowed ? { allowed: false, refusedBy, month, reset, calls, credits, rate: r } : { allowed: false, month, reset, calls, credits, rate: r });
    }
    return [];
  }

  /** Every waiter refused for the same reason as the first: no call of theirs can fit either. */
  private refuseAll(rest: Waiter[], refusedBy: QuotaName, at: Omit<QuotaDecision, 'allowed' | 'refusedBy'>): Waiter[] {
    for (const w of rest) w.resolve({ allowed: false, refusedBy, ...at });
    return [];
  }

  /** Out of credits for `cost`: refuses those costing as much or more, and hands back the cheaper ones to try again. */
  private refuseAbove(rest: Waiter[], cost: number, at: Omit<QuotaDecision, 'allowed' | 'refusedBy'>): Waiter[] {
    const retry: Waiter[] = [];
    for (const w of rest) {
      if (w.cost >= cost) w.resolve({ allowed: false, refusedBy: 'monthly_credits', ...at });
      else retry.push(w);
    }
    return retry;
  }
}

/** The same monthly allowances and shared rate limit: a changed plan starts a new queue (and its own lease). */
function sameAllowance(q: Queue, calls: number | null, credits: number | null, rate: RateLimit | undefined): boolean {
  if (q.calls !== calls || q.credits !== credits) return false;
  if (!q.rate || !rate) return q.rate === rate;
  return q.rate === rate || (q.rate.name === rate.name && q.rate.limit === rate.limit && q.rate.windowSeconds === rate.windowSeconds);
}

/** The batch's costs, then `extra` calls of cost 1 to lease (last, so they pass only if every real one did). */
function costsWithExtra(batch: Waiter[], extra: number): number[] {
  const costs = batch.map((w) => w.cost);
  for (let i = 0; i < extra; i++) costs.push(1);
  return costs;
}
