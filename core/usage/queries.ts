import type { EntityManager } from '@mikro-orm/postgresql';
import { BUCKETS, quantileFromHistogram, sumHistogramSql } from './histogram.js';
import { healthScore } from './health.js';

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

interface TotalsRow {
  calls: string | null;
  e4: string | null;
  e5: string | null;
  lsum: number | null;
  lmax: number | null;
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

const HIST_COLUMNS = Array.from({ length: BUCKETS }, (_, i) => i + 1);

/**
 * Each slice is summed on its own (histograms by subscript, no array built per row), then the
 * partial sums are added: no int[]→bigint[] cast or array materialised for every minute row.
 */
export async function totals(em: EntityManager, workspaceId: string, range: Range, keyId?: string): Promise<Totals> {
  const keyFilter = keyId === undefined ? '' : ' and key_id = ?';
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const slice of rollupSlices(range)) {
    parts.push(
      `select sum(calls) as calls, sum(errors_4xx) as e4, sum(errors_5xx) as e5, sum(latency_sum) as lsum, max(latency_max) as lmax,
              ${HIST_COLUMNS.map((i) => `sum(hist[${i}]) as h${i}`).join(', ')}
         from ${slice.table} where workspace_id = ? and bucket >= ? and bucket < ?${keyFilter}`,
    );
    params.push(workspaceId, slice.from, slice.to, ...(keyId === undefined ? [] : [keyId]));
  }
  const [row] = await em.execute<(Omit<TotalsRow, 'hist'> & Record<string, string | null>)[]>(
    `select sum(calls) as calls, sum(e4) as e4, sum(e5) as e5, sum(lsum) as lsum, max(lmax) as lmax,
            ${HIST_COLUMNS.map((i) => `sum(h${i}) as h${i}`).join(', ')}
       from (${parts.join(' union all ')}) p`,
    params,
  );
  return {
    calls: Number(row?.calls ?? 0),
    errors4xx: Number(row?.e4 ?? 0),
    errors5xx: Number(row?.e5 ?? 0),
    latencySum: Number(row?.lsum ?? 0),
    latencyMax: Number(row?.lmax ?? 0),
    hist: HIST_COLUMNS.map((i) => Number(row?.[`h${i}`] ?? 0)),
  };
}

export interface Summary {
  calls: number;
  errors_4xx: number;
  errors_5xx: number;
  /** (4xx + 5xx) / calls, 0..1, four decimals. */
  error_rate: number;
  avg_latency_ms: number;
  p95_latency_ms: number;
  health_score: number;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export function summarise(t: Totals, webhookSuccessRate: number | null): Summary {
  const errorRate = t.calls === 0 ? 0 : (t.errors4xx + t.errors5xx) / t.calls;
  const p95 = quantileFromHistogram(t.hist, 0.95, t.latencyMax);
  return {
    calls: t.calls,
    errors_4xx: t.errors4xx,
    errors_5xx: t.errors5xx,
    error_rate: round(errorRate, 4),
    avg_latency_ms: t.calls === 0 ? 0 : round(t.latencySum / t.calls, 1),
    p95_latency_ms: round(p95, 1),
    health_score: healthScore({ calls: t.calls, errorRate, p95LatencyMs: p95, webhookSuccessRate }),
  };
}

/**
 * Share of finished webhook deliveries (created in the range) that succeeded; null when there
 * were none, or when this database has no delivery table yet.
 */
export async function webhookSuccessRate(em: EntityManager, workspaceId: string, range: Range): Promise<number | null> {
  const [exists] = await em.execute<{ t: string | null }[]>(`select to_regclass('webhook_delivery')::text as t`);
  if (!exists?.t) return null;
  const [row] = await em.execute<{ ok: string; done: string }[]>(
    `select count(*) filter (where status = 'succeeded') as ok, count(*) filter (where status in ('succeeded', 'failed')) as done
       from webhook_delivery where workspace_id = ? and created_at >= ? and created_at < ?`,
    [workspaceId, range.from, range.to],
  );
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
  errors_4xx: number;
  errors_5xx: number;
  avg_latency_ms: number;
  p95_latency_ms: number;
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
  const keyFilter = keyId === undefined ? '' : ' and key_id = ?';
  const rows = await em.execute<{ t: Date; calls: string; e4: string; e5: string; lsum: number; lmax: number; hist: string[] | null }[]>(
    `select date_trunc('${interval}', bucket, 'UTC') as t, sum(calls) as calls, sum(errors_4xx) as e4, sum(errors_5xx) as e5,
            sum(latency_sum) as lsum, max(latency_max) as lmax, ${sumHistogramSql()} as hist
       from ${table} where workspace_id = ? and bucket >= ? and bucket < ?${keyFilter}
      group by 1 order by 1`,
    [workspaceId, from, range.to, ...(keyId === undefined ? [] : [keyId])],
  );
  const byTime = new Map(rows.map((r) => [new Date(r.t).getTime(), r]));
  const points: TimeseriesPoint[] = [];
  for (let t = from.getTime(); t < range.to.getTime(); t += step) {
    const r = byTime.get(t);
    const calls = Number(r?.calls ?? 0);
    const hist = (r?.hist ?? []).map(Number);
    points.push({
      t: new Date(t).toISOString(),
      calls,
      errors_4xx: Number(r?.e4 ?? 0),
      errors_5xx: Number(r?.e5 ?? 0),
      avg_latency_ms: calls === 0 ? 0 : round(Number(r!.lsum) / calls, 1),
      p95_latency_ms: round(quantileFromHistogram(hist, 0.95, Number(r?.lmax ?? 0)), 1),
    });
  }
  return points;
}
