import type pg from 'pg';
import type { RateLimit } from '../../db/entities/api-key.js';
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

// raw SQL: gives back one verification's call and credits when a check after the charge refused it
const REFUND_SQL = `update workspace_quota set calls = greatest(calls - 1, 0), credits = greatest(credits - $3::bigint, 0), updated_at = now() where workspace_id = $1 and month = $2::date`;

/** `2026-12-01` for any time in December 2026 (UTC). */
export function monthKey(start: Date): string {
  return start.toISOString().slice(0, 10);
}

/**
 * A workspace's monthly call quota and credit grant, shared by all its keys and every API process.
 * Within a process, charges for the same workspace that arrive while a statement is in flight go
 * together in the next one, as the rate limiter batches: exact however many processes take part.
 */
export class QuotaCounter {
  private readonly queues = new Map<string, Queue>();
  /** (workspace, month) rows this process has made sure exist: the combined statement must not run twice. */
  private readonly known = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly onQuery: () => void = () => {},
  ) {}

  /**
   * Counts one verification of `cost` credits, or refuses it: the calls stop at `calls` a month and
   * the credits at `credits` (null = that one is not limited).
   */
  charge(workspaceId: string, calls: number | null, credits: number | null, cost: number, rate?: RateLimit): Promise<QuotaDecision> {
    const id = rate
      ? `${workspaceId}\u0000${calls}\u0000${credits}\u0000${rate.name}\u0000${rate.limit}\u0000${rate.windowSeconds}`
      : `${workspaceId}\u0000${calls}\u0000${credits}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { workspaceId, calls, credits, rate, waiting: [], flushing: false }));
    const q = queue;
    const p = new Promise<QuotaDecision>((resolve, reject) => q.waiting.push({ cost, resolve, reject }));
    if (!q.flushing) void this.flush(id, q);
    return p;
  }

  /** Undoes one granted charge (a later check refused the verification). */
  async refund(workspaceId: string, d: QuotaDecision, cost: number): Promise<void> {
    this.onQuery();
    await this.pool.query(REFUND_SQL, [workspaceId, d.month, cost]);
  }

  private async flush(id: string, q: Queue): Promise<void> {
    q.flushing = true;
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0);
      try {
        const retry = await this.run(q, batch);
        // Refused on credits with cheaper calls behind: those go again, as they would have one by one.
        if (retry.length > 0) q.waiting.unshift(...retry);
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    q.flushing = false;
    this.queues.delete(id);
  }

  private async run(q: Queue, batch: Waiter[]): Promise<Waiter[]> {
    if (q.rate) return this.runWithRate(q, q.rate, batch);
    const { start, end } = monthBounds();
    const month = monthKey(start);
    const reset = end.getTime();
    const params = [q.workspaceId, month, batch.map((w) => w.cost), q.calls, q.credits];
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
    const granted = row.n;
    for (let i = 0; i < granted; i++) {
      calls += 1;
      credits += batch[i]!.cost;
      batch[i]!.resolve({ allowed: true, month, reset, calls, credits });
    }
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
  private async runWithRate(q: Queue, rate: RateLimit, batch: Waiter[]): Promise<Waiter[]> {
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
      batch.map((w) => w.cost),
      q.calls,
      q.credits,
      rate.name,
      windowStart,
      rate.limit,
      windowMs,
      previousShare,
      batch.length,
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
    for (let i = 0; i < row.n; i++) {
      calls += 1;
      credits += batch[i]!.cost;
      batch[i]!.resolve({ allowed: true, month, reset, calls, credits, rate: rateOf(i) });
    }
    const refusedBy: QuotaName = q.calls !== null && calls + 1 > q.calls ? 'monthly_calls' : 'monthly_credits';
    for (let i = row.n; i < batch.length; i++) {
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
