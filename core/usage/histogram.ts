import { sql, type Expression, type ExpressionBuilder, type RawBuilder } from 'kysely';
import type { Db } from '../../db/kysely.js';

/**
 * Fixed latency buckets shared by the writer, the rollups and every query, so percentiles come
 * from summed counts instead of raw rows. Upper bounds in ms, inclusive; the last bucket is
 * open-ended. Changing these means rewriting every stored histogram: append, never reorder.
 */
export const LATENCY_BOUNDS_MS = [1, 5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 2500, 5000, 10000] as const;
export const BUCKETS = LATENCY_BOUNDS_MS.length + 1;

export function bucketOf(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) if (latencyMs <= LATENCY_BOUNDS_MS[i]!) return i;
  return LATENCY_BOUNDS_MS.length;
}

export function emptyHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

/**
 * The q-quantile as the upper bound of the bucket holding the ceil(q·n)-th call; in the open
 * last bucket, the largest latency seen. 0 when there were no calls.
 */
export function quantileFromHistogram(hist: readonly number[], q: number, maxLatencyMs: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return i < LATENCY_BOUNDS_MS.length ? Math.min(LATENCY_BOUNDS_MS[i]!, maxLatencyMs) : maxLatencyMs;
  }
  return maxLatencyMs;
}

/** PostgreSQL's subscripts of a histogram, 1..BUCKETS. */
export const HIST_SUBSCRIPTS: readonly number[] = Array.from({ length: BUCKETS }, (_, i) => i + 1);

/** `sum(hist[i])` of one bucket (1-based, as PostgreSQL subscripts): a partial sum to add up later. */
export function sumHistogramBucket(hist: Expression<number[]>, i: number): RawBuilder<string | null> {
  return sql<string | null>`sum(${hist}[${sql.lit(i)}])`;
}

/**
 * `array[coalesce(sum(hist[1]), 0), …]` of a rollup's `hist` column: summing histograms by
 * subscript in one pass is far cheaper than unnesting every array and grouping by position.
 */
export function sumHistogram(hist: Expression<number[]>): RawBuilder<string[]> {
  return sql<string[]>`array[${sql.join(HIST_SUBSCRIPTS.map((i) => sql`coalesce(${sumHistogramBucket(hist, i)}, 0)`))}]`;
}

/** Rollup tables: the same columns per bucket (minute, hour, day). */
type RollupTable = 'usage_minute' | 'usage_hour' | 'usage_day';

/**
 * The sums a read of rollup rows groups by: calls, 4xx, 5xx, latency sum and max, and the summed
 * histogram, named `calls`, `e4`, `e5`, `lsum`, `lmax`, `hist` (what totals are built from).
 */
export function rollupSums<T extends RollupTable>(eb: ExpressionBuilder<Db, T>) {
  const e = eb as unknown as ExpressionBuilder<Db, RollupTable>;
  return [
    e.fn.sum<string>('calls').as('calls'),
    e.fn.sum<string>('errors_4xx').as('e4'),
    e.fn.sum<string>('errors_5xx').as('e5'),
    e.fn.sum<number>('latency_sum').as('lsum'),
    e.fn.max<number>('latency_max').as('lmax'),
    sumHistogram(e.ref('hist')).as('hist'),
  ] as const;
}
