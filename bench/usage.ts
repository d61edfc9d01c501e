// `npm run bench -- usage`: usage records per second into PostgreSQL through the real recording
// path (UsageRecorder: buffer → COPY + minute/hour/day rollup upserts, one transaction per batch),
// against a raw COPY of the same rows on as many connections as the recorder writes on, rounds
// alternating which goes first; only rows confirmed written count, and a failed batch fails the
// bench. Then the month summary of one workspace over generated records, the provider-wide month
// summary over many workspaces' hourly rollups, and retention: pruning one day of records by DELETE
// against dropping its partition. Options: --records <n> (default 500000), --summary-records <n>
// (10000000), --keys <n> (50), --routes <n> (10), --rounds <n> (3), --prune-records <n> (10000000),
// --provider-workspaces <n> (1000), --provider-keys <n> (10).
// Uses a fresh database on DATABASE_URL's server, else an embedded PostgreSQL.
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createLogger } from '../core/log.js';
import { LATENCY_BOUNDS_MS, BUCKETS } from '../core/usage/histogram.js';
import { rollupMonth } from '../core/usage/monthly.js';
import { dropUsagePartitions, ensureDayPartition } from '../core/usage/partitions.js';
import { providerUsage } from '../core/usage/provider.js';
import { summary } from '../core/usage/queries.js';
import { copyRows, UsageRecorder, WRITERS, type UsageInput } from '../core/usage/recorder.js';
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

/** Written records per second: only what the recorder confirms committed; any failed batch fails the bench. */
async function recordingPath(url: string, rows: UsageInput[]): Promise<{ perSecond: number; seconds: number }> {
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
  const { written, failedBatches, dropped } = rec.stats;
  await rec.close();
  if (failedBatches > 0 || dropped > 0 || written !== rows.length) {
    throw new Error(`recording path: ${written} of ${rows.length} records written, ${failedBatches} failed batches, ${dropped} dropped: the figure would be meaningless`);
  }
  return { perSecond: written / seconds, seconds };
}

/**
 * The same rows by COPY alone (no buffer, no rollups), in the recorder's batch size, on as many
 * connections at once as the recorder writes on (WRITERS): only the rollups and buffering differ.
 */
async function rawCopy(url: string, rows: UsageInput[]): Promise<{ perSecond: number; seconds: number }> {
  const pool = new pg.Pool({ connectionString: url, max: WRITERS });
  const now = new Date();
  const full = rows.map((r) => ({ ...r, keyId: r.keyId, code: null, counted: true, at: now }));
  let next = 0;
  let written = 0;
  const start = performance.now();
  const writer = async () => {
    const client = await pool.connect();
    try {
      for (;;) {
        // Each writer takes the next batch, as the recorder's writers take the next full one.
        const i = next;
        next += BATCH;
        if (i >= full.length) break;
        const batch = full.slice(i, i + BATCH);
        await client.query('begin');
        await copyRows(client, batch);
        await client.query('commit');
        written += batch.length;
      }
    } finally {
      client.release();
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  const seconds = (performance.now() - start) / 1000;
  await pool.end();
  if (written !== rows.length) throw new Error(`raw COPY wrote ${written} of ${rows.length} records`);
  return { perSecond: written / seconds, seconds };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median of `n` timed calls, ms. */
async function timedMedian<T>(n: number, f: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const ms: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    result = await f();
    ms.push(performance.now() - t);
  }
  return { ms: median(ms), result: result! };
}

/** Index of the latency bucket in SQL: bounds are upper-inclusive, as bucketOf() in TypeScript. */
const BUCKET_SQL = `(${LATENCY_BOUNDS_MS.length} - width_bucket(-latency_ms, array[${[...LATENCY_BOUNDS_MS].reverse().map((b) => -b).join(',')}]::real[]))`;
const HIST_SQL = `array[${Array.from({ length: BUCKETS }, (_, i) => `count(*) filter (where b = ${i})`).join(', ')}]`;

export async function generateMonth(client: pg.Client, workspaceId: string, n: number, keys: number, routes: number, from = '2026-10-01T00:00:00Z', days = 31) {
  const seconds = days * 86_400;
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
  await client.query(`insert into usage_day_total (${DAY_TOTAL_COLUMNS}) select ${DAY_TOTAL_SUMS} from usage_day where workspace_id = $1 group by 1, 2 order by 1`, [workspaceId]);
  await client.query('analyze usage_record; analyze usage_day; analyze usage_hour; analyze usage_minute; analyze usage_day_total');
}

/** The workspace day totals the recorder writes beside the day rows, from those rows. */
const DAY_TOTAL_COLUMNS = 'bucket, workspace_id, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist';
const DAY_TOTAL_SUMS = `bucket, workspace_id, sum(calls), sum(errors_4xx), sum(errors_5xx), sum(latency_sum), max(latency_max), array[${Array.from({ length: BUCKETS }, (_, i) => `sum(hist[${i + 1}])`).join(', ')}]::bigint[]`;

/**
 * The rollups `workspaces` × `keys` leave over October 2026: one hour row per workspace, key and
 * hour (a key calling all month), the day rows those hours sum to and the workspace day totals, as
 * the recorder writes them.
 */
async function generateProvider(client: pg.Client, workspaces: number, keys: number): Promise<{ hours: number; days: number }> {
  await client.query(
    `insert into workspace (id, name, key_prefix, created_at)
     select 'bench-p-' || w, 'Customer ' || w, 'p' || w, now() from generate_series(1, $1::int) w`,
    [workspaces],
  );
  const hist = Array.from({ length: BUCKETS }, (_, i) => (i === 3 ? 'c' : i === 5 ? 'c / 10' : '0')).join(', ');
  const hours = await client.query(
    `insert into usage_hour (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
     select 'bench-p-' || w, h, 'key-' || k, 'GET /resource/{id}', c + c / 10, c / 50, c / 300, (c * 20 + (c / 10) * 80)::float8, 95, array[${hist}]::bigint[]
       from (select w, k, h, (1 + floor(random() * 200))::int as c
               from generate_series(1, $1::int) w, generate_series(1, $2::int) k,
                    generate_series('2026-10-01T00:00:00Z'::timestamptz, '2026-10-31T23:00:00Z', interval '1 hour') h) s
      order by h`,
    [workspaces, keys],
  );
  const daySums = Array.from({ length: BUCKETS }, (_, i) => `sum(hist[${i + 1}])`).join(', ');
  const days = await client.query(
    `insert into usage_day (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
     select workspace_id, date_trunc('day', bucket, 'UTC'), key_id, route, sum(calls), sum(errors_4xx), sum(errors_5xx), sum(latency_sum), max(latency_max),
            array[${daySums}]::bigint[]
       from usage_hour where workspace_id like 'bench-p-%'
      group by 1, 2, 3, 4
      order by 2`,
  );
  await client.query(
    `insert into usage_day_total (${DAY_TOTAL_COLUMNS}) select ${DAY_TOTAL_SUMS} from usage_day where workspace_id like 'bench-p-%' group by 1, 2 order by 1`,
  );
  await client.query('analyze workspace; analyze usage_day; analyze usage_hour; analyze usage_day_total');
  return { hours: hours.rowCount ?? 0, days: days.rowCount ?? 0 };
}

/**
 * Retention of one day of `n` records: one DELETE of the day (the cheapest row delete; timed, then
 * rolled back so the same rows serve the DROP) against dropping the day's partition.
 */
async function pruneDay(client: pg.Client, em: EntityManager, n: number): Promise<{ deleteMs: number; dropMs: number }> {
  const day = new Date('2026-09-15T00:00:00Z');
  const next = new Date(day.getTime() + 86_400_000);
  await ensureDayPartition(em, day);
  await client.query(
    `insert into usage_record (workspace_id, key_id, source, method, route, status, latency_ms, counted, created_at)
     select 'bench-prune-' || (g % 100), 'key-' || (g % 50), 'service', 'GET', '/resource/{id}', 200, 12.5, true, $1::timestamptz + (g::float8 / $2) * interval '1 day'
       from generate_series(0, $2::int - 1) g`,
    [day, n],
  );
  await client.query('analyze usage_record');
  await client.query('begin');
  const t = performance.now();
  const deleted = await client.query(`delete from usage_record where created_at >= $1 and created_at < $2`, [day, next]);
  const deleteMs = performance.now() - t;
  await client.query('rollback');
  if (deleted.rowCount !== n) throw new Error(`prune: DELETE found ${deleted.rowCount} of ${n} records`);
  const d = performance.now();
  const dropped = await dropUsagePartitions(em, next);
  const dropMs = performance.now() - d;
  if (!dropped.dropped.includes('usage_record_p20260915')) throw new Error(`prune: the day's partition was not dropped (${dropped.dropped.join(', ')})`);
  return { deleteMs, dropMs };
}

export async function run(args: string[]) {
  const records = option(args, 'records', 500_000);
  const summaryRecords = option(args, 'summary-records', 10_000_000);
  const keys = option(args, 'keys', 50);
  const routes = option(args, 'routes', 10);
  const rounds = option(args, 'rounds', 3);
  const pruneRecords = option(args, 'prune-records', 10_000_000);
  const providerWorkspaces = option(args, 'provider-workspaces', 1_000);
  const providerKeys = option(args, 'provider-keys', 10);
  const loadStart = loadavg()[0]!;

  const cleanups = new Cleanups();
  const url = await benchDatabase(loadConfig(), cleanups);
  const orm = await createOrm(url);
  try {
    await migrate(orm);
    say(`usage bench on ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadStart.toFixed(1)} at start`);
    say(`${records.toLocaleString('en')} records (${keys} keys × ${routes} routes × 2 methods), then ${summaryRecords.toLocaleString('en')} generated for the summary`);

    // Warm-up: first COPY, first upserts, plans cached; not measured.
    await recordingPath(url, makeRows(20_000, keys, routes, 'bench-warm'));

    // Rounds alternate which path goes first, so neither always runs on the other's leftovers
    // (autovacuum, checkpoints) and a burst of load from elsewhere hits both; each figure is its median round.
    const recRates: number[] = [];
    const copyRates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const rows = makeRows(records, keys, routes, `bench-rec-${round}`);
      const copyInput = rows.map((r) => ({ ...r, workspaceId: `bench-copy-${round}` }));
      const recFirst = round % 2 === 1;
      const first = recFirst ? await recordingPath(url, rows) : await rawCopy(url, copyInput);
      const second = recFirst ? await rawCopy(url, copyInput) : await recordingPath(url, rows);
      const [rec, copy] = recFirst ? [first, second] : [second, first];
      recRates.push(rec.perSecond);
      copyRates.push(copy.perSecond);
      say(
        `round ${round} (${recFirst ? 'recording' : 'COPY'} first): recording path (buffer → COPY + minute/hour/day rollup upserts) ${Math.round(rec.perSecond).toLocaleString('en')} records/s; raw COPY of the same rows on ${WRITERS} connections ${Math.round(copy.perSecond).toLocaleString('en')} records/s`,
      );
    }
    const rec = { perSecond: median(recRates) };
    const copy = { perSecond: median(copyRates) };
    say(`median: recording ${Math.round(rec.perSecond).toLocaleString('en')} records/s, raw COPY ${Math.round(copy.perSecond).toLocaleString('en')} records/s`);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const em = orm.em.fork() as EntityManager;
    // October's days get their partitions first, as the daily upkeep would have made them.
    for (let d = 0; d < 31; d++) await ensureDayPartition(em, new Date(Date.UTC(2026, 9, 1 + d)));
    const genStart = performance.now();
    await generateMonth(client, 'bench-month', summaryRecords, keys, routes);
    say(`generated ${summaryRecords.toLocaleString('en')} raw records for October 2026 + their day, hour and minute rollups in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
    const counts = await client.query<{ d: string; h: string; m: string }>(
      `select (select count(*) from usage_day where workspace_id = 'bench-month') as d, (select count(*) from usage_hour where workspace_id = 'bench-month') as h,
              (select count(*) from usage_minute where workspace_id = 'bench-month') as m`,
    );
    say(`rollup rows: ${counts.rows[0]!.d} day, ${counts.rows[0]!.h} hour, ${counts.rows[0]!.m} minute`);

    const month = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };
    const ragged = { from: new Date('2026-10-01T12:00:00Z'), to: new Date('2026-10-31T12:00:00Z') };
    const full = await timedMedian(7, () => summary(em, 'bench-month', month));
    const partial = await timedMedian(7, () => summary(em, 'bench-month', ragged));
    say(`summary of one workspace, October (whole days, the workspace's day totals): median ${full.ms.toFixed(1)} ms → ${JSON.stringify(full.result)}`);
    say(`summary, Oct 1 12:00 – Oct 31 12:00 (+ hour and minute rollups for the ends): median ${partial.ms.toFixed(1)} ms`);
    const rawStart = performance.now();
    const raw = await client.query<{ calls: string }>(
      `select count(*) as calls, percentile_cont(0.95) within group (order by latency_ms) as p95 from usage_record where workspace_id = 'bench-month' and created_at >= $1 and created_at < $2`,
      [month.from, month.to],
    );
    say(`for comparison, the same month straight from the raw rows (count + exact p95): ${(performance.now() - rawStart).toFixed(0)} ms (${raw.rows[0]!.calls} calls)`);

    const provStart = performance.now();
    const prov = await generateProvider(client, providerWorkspaces, providerKeys);
    say(
      `generated ${providerWorkspaces.toLocaleString('en')} workspaces × ${providerKeys} keys: ${prov.hours.toLocaleString('en')} hour rollups, ${prov.days.toLocaleString('en')} day rollups in ${((performance.now() - provStart) / 1000).toFixed(1)} s`,
    );
    // The operator's charts for October: the last 31 days seen from Oct 31.
    const provider = await timedMedian(7, () => providerUsage(em, { days: 31 }, new Date('2026-10-31T12:00:00Z')));
    const topCalls = provider.result.topByCalls[0];
    say(`provider-wide month summary (daily calls and errors, top ten by calls and by errors): median ${provider.ms.toFixed(1)} ms → top ${topCalls?.workspaceId} ${topCalls?.calls} calls`);
    const closing = await timedMedian(1, () => rollupMonth(em, '2026-10'));
    say(`for comparison, closing October (usage_month and usage_month_plan for every workspace): ${closing.ms.toFixed(0)} ms, ${closing.result.rows} rows`);

    const pruneStart = performance.now();
    const prune = await pruneDay(client, em, pruneRecords);
    say(
      `retention of one day of ${pruneRecords.toLocaleString('en')} records (generated in ${((performance.now() - pruneStart - prune.deleteMs - prune.dropMs) / 1000).toFixed(1)} s): DELETE ${prune.deleteMs.toFixed(0)} ms, DROP of its partition ${prune.dropMs.toFixed(1)} ms`,
    );
    await client.end();

    const loadEnd = loadavg()[0]!;
    say(
      JSON.stringify({
        bench: 'usage',
        ratio: Math.round((rec.perSecond / copy.perSecond) * 100) / 100,
        summary_ms: Math.round(full.ms * 10) / 10,
        provider_summary_ms: Math.round(provider.ms * 10) / 10,
        prune_drop_ms: Math.round(prune.dropMs * 10) / 10,
        prune_delete_ms: Math.round(prune.deleteMs),
        records_per_s: Math.round(rec.perSecond),
        copy_per_s: Math.round(copy.perSecond),
        writers: WRITERS,
        ragged_summary_ms: Math.round(partial.ms * 10) / 10,
        summary_records: summaryRecords,
        prune_records: pruneRecords,
        provider_workspaces: providerWorkspaces,
        provider_keys: providerKeys,
        cpus: cpus().length,
        load: [Math.round(loadStart * 10) / 10, Math.round(loadEnd * 10) / 10],
      }),
    );
  } finally {
    await orm.close();
    await cleanups.run();
  }
}
