// `npm run bench -- usage`: usage records per second into PostgreSQL through the real recording
// path (UsageRecorder: buffer → COPY + minute/hour/day rollup upserts, one transaction per batch),
// against a raw COPY of the same rows in the same run; then the month summary query over
// 10 M generated records. Options: --records <n> (default 500000), --summary-records <n>
// (default 10000000), --keys <n> (50), --routes <n> (10), --rounds <n> (3, alternating the two paths).
// Uses a fresh database on DATABASE_URL's server, else an embedded PostgreSQL.
import pg from 'pg';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createLogger } from '../core/log.js';
import { LATENCY_BOUNDS_MS, BUCKETS } from '../core/usage/histogram.js';
import { summary } from '../core/usage/queries.js';
import { copyRows, UsageRecorder, type UsageInput } from '../core/usage/recorder.js';
import { createOrm, migrate } from '../db/orm.js';
import { benchDatabase, Cleanups } from './services.js';
import { loadConfig } from '../core/config.js';

/** The recorder's default batch size: both paths commit the same number of transactions. */
const BATCH = 50_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name}: expected a positive integer`);
  return v;
}

/** Realistic-looking traffic: a few keys, a handful of routes, mostly 200s, a long latency tail. */
function makeRows(n: number, keys: number, routes: number, workspaceId: string): UsageInput[] {
  const rows: UsageInput[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.random();
    rows[i] = {
      workspaceId,
      keyId: `key-${Math.floor(Math.random() * keys)}`,
      source: 'service',
      method: Math.random() < 0.2 ? 'POST' : 'GET',
      route: `/resource-${Math.floor(Math.random() * routes)}/{id}`,
      status: r < 0.003 ? 503 : r < 0.023 ? 404 : 200,
      latencyMs: Math.round(Math.random() ** 3 * 200_000) / 100,
    };
  }
  return rows;
}

async function recordingPath(url: string, rows: UsageInput[]): Promise<{ perSecond: number; dropped: number; seconds: number }> {
  const rec = new UsageRecorder({ databaseUrl: url, log: createLogger('warn'), flushIntervalMs: 1_000 });
  // Two batches waiting at most: the writer never idles, the buffer bound (100,000) is never hit.
  const high = 2 * BATCH;
  const start = performance.now();
  for (let i = 0; i < rows.length; i++) {
    rec.record(rows[i]!);
    // Feed no faster than the writer drains: a request path never waits, but a benchmark that
    // overran the buffer would measure dropped records instead of written ones.
    if (rec.buffered >= high) {
      while (rec.buffered >= high / 2) await new Promise((r) => setTimeout(r, 1));
    }
  }
  await rec.flush();
  const seconds = (performance.now() - start) / 1000;
  const dropped = rec.stats.dropped;
  await rec.close();
  return { perSecond: rows.length / seconds, dropped, seconds };
}

async function rawCopy(url: string, rows: UsageInput[]): Promise<{ perSecond: number; seconds: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const now = new Date();
  const full = rows.map((r) => ({ ...r, keyId: r.keyId, code: null, counted: true, at: now }));
  const start = performance.now();
  // Same batch size as the recorder, one transaction each: only the rollups and buffering differ.
  for (let i = 0; i < full.length; i += BATCH) {
    await client.query('begin');
    await copyRows(client, full.slice(i, i + BATCH));
    await client.query('commit');
  }
  const seconds = (performance.now() - start) / 1000;
  await client.end();
  return { perSecond: rows.length / seconds, seconds };
}

/** Index of the latency bucket in SQL: bounds are upper-inclusive, as bucketOf() in TypeScript. */
const BUCKET_SQL = `(${LATENCY_BOUNDS_MS.length} - width_bucket(-latency_ms, array[${[...LATENCY_BOUNDS_MS].reverse().map((b) => -b).join(',')}]::real[]))`;
const HIST_SQL = `array[${Array.from({ length: BUCKETS }, (_, i) => `count(*) filter (where b = ${i})`).join(', ')}]`;

export async function generateMonth(client: pg.Client, workspaceId: string, n: number, keys: number, routes: number) {
  const from = '2026-10-01T00:00:00Z';
  const seconds = 31 * 86_400;
  await client.query(
    `insert into usage_record (workspace_id, key_id, source, method, route, status, latency_ms, counted, created_at)
     select $1, 'key-' || floor(random() * $3), 'service', case when random() < 0.2 then 'POST' else 'GET' end,
            '/resource-' || floor(random() * $4) || '/{id}',
            case when r < 0.003 then 503 when r < 0.023 then 404 else 200 end,
            round((random() ^ 3 * 2000)::numeric, 2)::real, true,
            $5::timestamptz + (((g - 1)::float8 / $2) * $6) * interval '1 second'
       from (select g, random() as r from generate_series(1, $2::int) as g) s`,
    [workspaceId, n, keys, routes, from, seconds],
  );
  for (const [table, width] of [
    ['usage_day', 'day'],
    ['usage_hour', 'hour'],
    ['usage_minute', 'minute'],
  ] as const) {
    await client.query(
      `insert into ${table} (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
       select workspace_id, t, coalesce(key_id, ''), method || ' ' || route, count(*),
              count(*) filter (where status between 400 and 499), count(*) filter (where status >= 500),
              sum(latency_ms), max(latency_ms), ${HIST_SQL}
         from (select *, date_trunc('${width}', created_at, 'UTC') as t, ${BUCKET_SQL} as b from usage_record where workspace_id = $1) r
        group by workspace_id, t, key_id, method, route
        -- In bucket order, as the batch writer appends them: rows of one minute share heap pages.
        order by t`,
      [workspaceId],
    );
  }
  await client.query('analyze usage_record; analyze usage_day; analyze usage_hour; analyze usage_minute');
}

export async function run(args: string[]) {
  const records = option(args, 'records', 500_000);
  const summaryRecords = option(args, 'summary-records', 10_000_000);
  const keys = option(args, 'keys', 50);
  const routes = option(args, 'routes', 10);
  const rounds = option(args, 'rounds', 3);

  const cleanups = new Cleanups();
  const url = await benchDatabase(loadConfig(), cleanups);
  const orm = await createOrm(url);
  try {
    await migrate(orm);
    say(`usage bench: ${records.toLocaleString('en')} records (${keys} keys × ${routes} routes × 2 methods), then ${summaryRecords.toLocaleString('en')} generated for the summary`);

    // Warm-up: first COPY, first upserts, plans cached; not measured.
    await recordingPath(url, makeRows(20_000, keys, routes, 'bench-warm'));

    // Rounds alternate the two paths so a burst of load from elsewhere on the machine hits both;
    // each path's figure is its median round.
    const recRates: number[] = [];
    const copyRates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const rows = makeRows(records, keys, routes, `bench-rec-${round}`);
      const rec = await recordingPath(url, rows);
      if (rec.dropped > 0) throw new Error(`recording path dropped ${rec.dropped} records: the figure would be meaningless`);
      const copy = await rawCopy(url, rows.map((r) => ({ ...r, workspaceId: `bench-copy-${round}` })));
      recRates.push(rec.perSecond);
      copyRates.push(copy.perSecond);
      say(`round ${round}: recording path (buffer → COPY + minute/hour/day rollup upserts) ${Math.round(rec.perSecond).toLocaleString('en')} records/s; raw COPY of the same rows ${Math.round(copy.perSecond).toLocaleString('en')} records/s`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rec = { perSecond: median(recRates) };
    const copy = { perSecond: median(copyRates) };
    say(`median: recording ${Math.round(rec.perSecond).toLocaleString('en')} records/s, raw COPY ${Math.round(copy.perSecond).toLocaleString('en')} records/s`);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const genStart = performance.now();
    await generateMonth(client, 'bench-month', summaryRecords, keys, routes);
    say(`generated ${summaryRecords.toLocaleString('en')} raw records for October 2026 + their day, hour and minute rollups in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
    const counts = await client.query<{ d: string; h: string; m: string }>(
      `select (select count(*) from usage_day where workspace_id = 'bench-month') as d, (select count(*) from usage_hour where workspace_id = 'bench-month') as h,
              (select count(*) from usage_minute where workspace_id = 'bench-month') as m`,
    );
    say(`rollup rows: ${counts.rows[0]!.d} day, ${counts.rows[0]!.h} hour, ${counts.rows[0]!.m} minute`);

    const em = orm.em.fork() as EntityManager;
    const month = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
    const ragged = { from: new Date('2026-10-01T12:00:00Z'), to: new Date('2026-10-31T12:00:00Z') };
    const timed = async (range: { from: Date; to: Date }) => {
      const ms: number[] = [];
      let last;
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        last = await summary(em, 'bench-month', range);
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      return { median: ms[3]!, result: last! };
    };
    const full = await timed(month);
    const partial = await timed(ragged);
    say(`summary, October (whole days, day rollups):        median ${full.median.toFixed(1)} ms → ${JSON.stringify(full.result)}`);
    say(`summary, Oct 1 12:00 – Oct 31 12:00 (+ hour and minute rollups for the ends): median ${partial.median.toFixed(1)} ms`);
    const rawStart = performance.now();
    const raw = await client.query<{ calls: string }>(
      `select count(*) as calls, percentile_cont(0.95) within group (order by latency_ms) as p95 from usage_record where workspace_id = 'bench-month' and created_at >= $1 and created_at < $2`,
      [month.from, month.to],
    );
    say(`for comparison, the same month straight from the raw rows (count + exact p95): ${(performance.now() - rawStart).toFixed(0)} ms (${raw.rows[0]!.calls} calls)`);
    await client.end();

    say(
      JSON.stringify({
        bench: 'usage',
        ratio: Math.round((rec.perSecond / copy.perSecond) * 100) / 100,
        records_per_s: Math.round(rec.perSecond),
        copy_per_s: Math.round(copy.perSecond),
        summary_ms_10m: Math.round(full.median * 10) / 10,
      }),
    );
  } finally {
    await orm.close();
    await cleanups.run();
  }
}
