/**
 * How much room a process counts in PostgreSQL ahead of its requests (a lease), so that a busy
 * counter is not a round trip per batch. No I/O: the rate limiter (core/keys/rate-limit.ts) and the
 * monthly quota (core/plans/quota.ts) ask.
 *
 * The bound, stated in docs/security.md: a lease is never more than
 * - what this process handed out over the last `LEASE_HORIZON_MS` at its current pace,
 * - an eighth of the room left (so within 8 of the limit every request is a round trip, exact), and
 * - `LEASE_SHARE_OF_LIMIT` of the limit (limits under 1,000 never lease),
 * and what is not handed out goes back within twice `LEASE_MAX_AGE_MS` (the limiter sweeps every
 * `LEASE_MAX_AGE_MS`), at the window's (or month's) end or at shutdown.
 * A limit is never exceeded, in one process or many: leased room is counted before it is handed out.
 */

/** A lease lasts about this long at the pace that asked for it. */
export const LEASE_HORIZON_MS = 50;

/** Room unused this long after it was leased goes back to PostgreSQL. */
export const LEASE_MAX_AGE_MS = 1_000;

/** The most of a limit one process may hold unhanded: 0.1 %. */
export const LEASE_SHARE_OF_LIMIT = 0.001;

/**
 * Extra room to ask for beyond the requests waiting now: `handed` requests in the `elapsedMs` since
 * the last lease (undefined: no history, ask for none), `headroom` left at the last answer.
 */
export function leaseSize(handed: number, elapsedMs: number | undefined, headroom: number, limit: number): number {
  if (elapsedMs === undefined || handed === 0) return 0;
  const pace = Math.floor((handed * LEASE_HORIZON_MS) / Math.max(1, elapsedMs));
  return Math.max(0, Math.min(pace, Math.floor(headroom / 8), Math.floor(limit * LEASE_SHARE_OF_LIMIT)));
}

/**
 * Leased room on its way back to PostgreSQL, by owner: until the refund commits it is still counted
 * there, so what a process reports as leased includes it (a reader of the counter then sees no gap).
 */
export class LeaseReturns {
  private readonly pending = new Map<string, number>();

  get(owner: string): number {
    return this.pending.get(owner) ?? 0;
  }

  /** Counts `n` as returning for `owner` until `refund` settles; resolves then. */
  track(owner: string, n: number, refund: Promise<unknown>): Promise<void> {
    this.pending.set(owner, this.get(owner) + n);
    return refund.then(
      () => this.settle(owner, n),
      (err: unknown) => {
        this.settle(owner, n);
        throw err;
      },
    );
  }

  private settle(owner: string, n: number) {
    const left = this.get(owner) - n;
    if (left === 0) this.pending.delete(owner);
    else this.pending.set(owner, left);
  }
}
