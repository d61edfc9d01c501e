/**
 * When one set of limits is looser than another. Who may loosen is the callers' rule (only the
 * workspace admin, never on its own key); this module only orders limits, with no I/O.
 *
 * A rate limit is `limit` requests per `windowSeconds`. `a` is at least as tight as `b` when it
 * allows no more requests (`a.limit <= b.limit`) over a window at least as long
 * (`a.windowSeconds >= b.windowSeconds`): 100 per hour is tighter than 100 per minute, 50 per
 * second is not tighter than 100 per minute. Limits are matched by what they allow, not by name.
 * This is deliberately conservative: a change it cannot show to be tighter counts as looser.
 *
 * Credits: `null` is unlimited, the loosest. Otherwise fewer credits left, no refill, a smaller
 * refill amount or a less frequent refill (monthly rather than daily) are tighter.
 */

export interface RateLimitBound {
  name: string;
  limit: number;
  windowSeconds: number;
}

export interface CreditsBound {
  remaining: number;
  refill: { amount: number; interval: 'daily' | 'monthly' } | null;
}

/** Whether `a` allows nothing that `b` refuses. */
export function rateLimitCovers(a: RateLimitBound, b: RateLimitBound): boolean {
  return a.limit <= b.limit && a.windowSeconds >= b.windowSeconds;
}

const describe = (l: RateLimitBound) => `'${l.name}' (${l.limit} per ${l.windowSeconds} s)`;

/**
 * How `next` is looser than `before`, or undefined when it is not: each limit of `before` must be
 * covered by some limit of `next`. Phrased to follow "this change …" in an error message.
 */
export function looserRateLimits(next: readonly RateLimitBound[], before: readonly RateLimitBound[]): string | undefined {
  const uncovered = before.find((b) => !next.some((a) => rateLimitCovers(a, b)));
  return uncovered ? `drops or raises the rate limit ${describe(uncovered)}` : undefined;
}

/** Refills per year, only to order the intervals: a daily refill hands out more than a monthly one. */
const REFILLS_PER_YEAR = { daily: 365, monthly: 12 } as const;

/** How `next` is looser than `before`, or undefined when it is not. Phrased like `looserRateLimits`. */
export function looserCredits(next: CreditsBound | null, before: CreditsBound | null): string | undefined {
  if (before === null) return undefined;
  if (next === null) return `removes the credit quota (${before.remaining} left)`;
  if (next.remaining > before.remaining) return `raises the credits left from ${before.remaining} to ${next.remaining}`;
  if (next.refill === null) return undefined;
  if (before.refill === null) return `adds a ${next.refill.interval} refill of ${next.refill.amount} credits`;
  if (next.refill.amount > before.refill.amount) return `raises the refill from ${before.refill.amount} to ${next.refill.amount} credits`;
  if (REFILLS_PER_YEAR[next.refill.interval] > REFILLS_PER_YEAR[before.refill.interval]) {
    return `refills ${next.refill.interval} instead of ${before.refill.interval}`;
  }
  return undefined;
}
