import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import { workspaceScope } from '../scope.js';
import { HIST_SUBSCRIPTS, quantileFromHistogram, rollupSums, sumHistogramBucket } from './histogram.js';
import { healthParts, healthScore, type HealthParts } from './health.js';

export interface Range {
  from: Date;
  to: Date;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export const startOfUtcDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY) * DAY);
export const startOfUtcMonth = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
export const startOfNextUtcMonth = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));

/** The calendar month (UTC) holding `now`: the dashboard's "this month". */
export function thisMonth(now = new Date()): Range {
  return { from: startOfUtcMonth(now), to: startOfNextUtcMonth(now) };
}

export interface Totals {
  calls: number;
  errors4xx: number;
  errors5xx: number;
  latencySum: number;
  latencyMax: number;
  hist: number[];
}

type RollupTable = 'usage_day' | 'usage_hour' | 'usage_minute';

/**
 * The rollup slices covering [from, to): whole UTC days from usage_day, whole hours of the ragged
 * ends from usage_hour, what is left from usage_minute — a month reads ~31 day rows per key and
 * route, "the last 24 hours" ~24 hour rows, never millions of records.
 * Bounds resolve to whole minutes (a minute bucket belongs to the range when it starts inside it).
 */
function rollupSlices(range: Range): { table: RollupTable; from: Date; to: Date }[] {
  const from = new Date(Math.ceil(range.from.getTime() / MINUTE) * MINUTE);
  const to = range.to;
  const dayFrom = ceilTo(from, DAY);
  const dayTo = floorTo(to, DAY);
  if (dayFrom >= dayTo) return ragged(from, to);
  return [{ table: 'usage_day' as const, from: dayFrom, to: dayTo }, ...ragged(from, dayFrom), ...ragged(dayTo, to)].filter((s) => s.from < s.to);
}

/** Less than a day: whole hours from usage_hour, the minutes around them from usage_minute. */
function ragged(from: Date, to: Date): { table: RollupTable; from: Date; to: Date }[] {
  const hourFrom = ceilTo(from, HOUR);
  const hourTo = floorTo(to, HOUR);
  if (hourFrom >= hourTo) return [{ table: 'usage_minute' as const, from, to }].filter((s) => s.from < s.to);
  return [
    { table: 'usage_hour' as const, from: hourFrom, to: hourTo },
    { table: 'usage_minute' as const, from, to: hourFrom },
    { table: 'usage_minute' as const, from: hourTo, to },
  ].filter((s) => s.from < s.to);
}

const ceilTo = (d: Date, step: number) => new Date(Math.ceil(d.getTime() / step) * step);
const floorTo = (d: Date, step: number) => new Date(Math.floor(d.getTime() / step) * step);

/**
 * Each slice is summed on its own (histograms by subscript, no array built per row), then the
 * partial sums are added: no int[]→bigint[] cast or array materialised for every minute row.
 * One query, whatever the number of slices.
 */
export async function totals(em: EntityManager, workspaceId: string, range: Range, keyId?: string): Promise<Totals> {
  const scope = workspaceScope(em, workspaceId);
  const parts = rollupSlices(range).map((slice) => {
    // Every key: whole days from the workspace's day totals, one row a day instead of one per key and route.
    const table = slice.table === 'usage_day' && keyId === undefined ? ('usage_day_total' as const) : slice.table;
    let q = scope
      .selectFrom(table)
      .select((eb) => [
        eb.fn.sum<string | null>('calls').as('calls'),
        eb.fn.sum<string | null>('errors_4xx').as('e4'),
        eb.fn.sum<string | null>('errors_5xx').as('e5'),
        eb.fn.sum<number | null>('latency_sum').as('lsum'),
        eb.fn.max<number | null>('latency_max').as('lmax'),
        ...HIST_SUBSCRIPTS.map((i) => sumHistogramBucket(eb.ref('hist'), i).as(`h${i}`)),
      ])
      .where('bucket', '>=', slice.from)
      .where('bucket', '<', slice.to);
    if (keyId !== undefined) q = q.where('key_id', '=', keyId);
    return q;
  });
  // A range inside one minute covers no minute bucket: nothing to read.
  const [first, ...rest] = parts;
  if (!first) return { calls: 0, errors4xx: 0, errors5xx: 0, latencySum: 0, latencyMax: 0, hist: HIST_SUBSCRIPTS.map(() => 0) };
  const row = await typedDb(em)
    .selectFrom(rest.reduce((all, part) => all.unionAll(part), first).as('p'))
    .select((eb) => [
      eb.fn.sum<string | null>('calls').as('calls'),
      eb.fn.sum<string | null>('e4').as('e4'),
      eb.fn.sum<string | null>('e5').as('e5'),
      eb.fn.sum<number | null>('lsum').as('lsum'),
      eb.fn.max<number | null>('lmax').as('lmax'),
      ...HIST_SUBSCRIPTS.map((i) => sql<string | null>`sum(${sql.ref(`h${i}`)})`.as(`h${i}`)),
    ])
    .executeTakeFirst();
  return {
    calls: Number(row?.calls ?? 0),
    errors4xx: Number(row?.e4 ?? 0),
    errors5xx: Number(row?.e5 ?? 0),
    latencySum: Number(row?.lsum ?? 0),
    latencyMax: Number(row?.lmax ?? 0),
    hist: HIST_SUBSCRIPTS.map((i) => Number(row?.[`h${i}`] ?? 0)),
  };
}

export interface Summary {
  calls: number;
  errors4xx: number;
  errors5xx: number;
  /** (4xx + 5xx) / calls, 0..1, four decimals. */
  errorRate: number;
  avgLatencyMs: number;
  p95LatencyMs: number;
  healthScore: number;
  /** The score's components, each 0–100 before weighting (docs/usage.md). */
  healthParts: HealthParts;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export function summarise(t: Totals, webhookSuccessRate: number | null): Summary {
  const errorRate = t.calls === 0 ? 0 : (t.errors4xx + t.errors5xx) / t.calls;
  const p95 = quantileFromHistogram(t.hist, 0.95, t.latencyMax);
  const inputs = { calls: t.calls, errorRate, p95LatencyMs: p95, webhookSuccessRate };
  return {
    calls: t.calls,
    errors4xx: t.errors4xx,
    errors5xx: t.errors5xx,
    errorRate: round(errorRate, 4),
    avgLatencyMs: t.calls === 0 ? 0 : round(t.latencySum / t.calls, 1),
    p95LatencyMs: round(p95, 1),
    healthScore: healthScore(inputs),
    healthParts: healthParts(inputs),
  };
}

/** Share of finished webhook deliveries (created in the range) that succeeded; null when there were none. */
export async function webhookSuccessRate(em: EntityManager, workspaceId: string, range: Range): Promise<number | null> {
  const row = await workspaceScope(em, workspaceId)
    .selectFrom('webhook_delivery')
    .select((eb) => [
      eb.fn.countAll<string>().filterWhere('status', '=', 'succeeded').as('ok'),
      eb.fn.countAll<string>().filterWhere('status', 'in', ['succeeded', 'failed']).as('done'),
    ])
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .executeTakeFirst();
  const done = Number(row?.done ?? 0);
  return done === 0 ? null : Number(row!.ok) / done;
}

export async function summary(em: EntityManager, workspaceId: string, range: Range, keyId?: string): Promise<Summary> {
  const [t, wh] = await Promise.all([totals(em, workspaceId, range, keyId), webhookSuccessRate(em, workspaceId, range)]);
  return summarise(t, wh);
}

export interface TimeseriesPoint {
  t: string;
  calls: number;
  errors4xx: number;
  errors5xx: number;
  avgLatencyMs: number;
  p95LatencyMs: number;
}

export const MAX_POINTS = 2_000;

/**
 * One point per hour (from hour rollups) or per UTC day (from day rollups), gaps filled with
 * zeros so a chart's x axis is regular. `from` is rounded down to the interval.
 */
export async function timeseries(
  em: EntityManager,
  workspaceId: string,
  range: Range,
  interval: 'hour' | 'day',
  keyId?: string,
): Promise<TimeseriesPoint[]> {
  const table = interval === 'hour' ? 'usage_hour' : 'usage_day';
  const step = interval === 'hour' ? HOUR : DAY;
  const from = new Date(Math.floor(range.from.getTime() / step) * step);
  let q = workspaceScope(em, workspaceId)
    .selectFrom(table)
    .select((eb) => [
      sql<string>`date_trunc(${sql.lit(interval)}, ${eb.ref('bucket')}, 'UTC')`.as('t'),
      ...rollupSums(eb),
    ])
    .where('bucket', '>=', from)
    .where('bucket', '<', range.to);
  if (keyId !== undefined) q = q.where('key_id', '=', keyId);
  const rows = await q.groupBy(sql`1`).orderBy(sql`1`).execute();
  const byTime = new Map(rows.map((r) => [new Date(r.t).getTime(), r]));
  const points: TimeseriesPoint[] = [];
  for (let t = from.getTime(); t < range.to.getTime(); t += step) {
    const r = byTime.get(t);
    const calls = Number(r?.calls ?? 0);
    const hist = (r?.hist ?? []).map(Number);
    points.push({
      t: new Date(t).toISOString(),
      calls,
      errors4xx: Number(r?.e4 ?? 0),
      errors5xx: Number(r?.e5 ?? 0),
      avgLatencyMs: calls === 0 ? 0 : round(Number(r!.lsum) / calls, 1),
      p95LatencyMs: round(quantileFromHistogram(hist, 0.95, Number(r?.lmax ?? 0)), 1),
    });
  }
  return points;
}
