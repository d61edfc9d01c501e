import { pipeline } from 'node:stream/promises';
import { setImmediate } from 'node:timers/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { connectionErrorFields } from '../../db/connection-error.js';
import type { Logger } from '../log.js';
import { binaryCopyChunks } from './copy-binary.js';
import { BUCKETS, bucketOf, emptyHistogram } from './histogram.js';

/**
 * `verification` and `service` are the provider's API traffic, which every figure counts; `api`
 * (Gatehouse's management API called with a key) and `ui` (the web UI's session) are recorded for
 * the request log only, uncounted (docs/usage.md, "What is recorded").
 */
export type UsageSource = 'api' | 'ui' | 'verification' | 'service';

/** The sources the figures count: the provider's API traffic. */
export const TRAFFIC_SOURCES: readonly UsageSource[] = ['verification', 'service'];
/** Calls to Gatehouse itself: in the request log under their own filter, never in the figures. */
export const MANAGEMENT_SOURCES: readonly UsageSource[] = ['api', 'ui'];

/** One request, as the recorder receives it. */
export interface UsageInput {
  workspaceId: string;
  /** The key that made (or, for a verification, was presented for) the call; null when unknown. */
  keyId: string | null;
  source: UsageSource;
  method: string;
  /** The route pattern (`/api-keys/{id}`), never the raw path. */
  route: string;
  status: number;
  latencyMs: number;
  /** Verification code (`VALID`, `RATE_LIMITED`…) when the record is or follows a verification. */
  code?: string | null;
  /** False: stored for the request log, left out of the rollups (docs/usage.md, "What counts"). */
  counted?: boolean;
  at?: Date;
}

export interface RecorderOptions {
  databaseUrl: string;
  log: Logger;
  /** How often the buffer is written even when no batch has filled up. */
  flushIntervalMs?: number;
  /** A batch is written as soon as this many records wait. */
  batchSize?: number;
  /** Beyond this many waiting records new ones are dropped (and counted): memory stays bounded. */
  maxBuffer?: number;
  /** Runs after each batch is committed (limit warnings are raised from here, off the request path). */
  afterFlush?: () => Promise<void>;
}

export interface RecorderStats {
  recorded: number;
  written: number;
  dropped: number;
  failedBatches: number;
  buffered: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Records held column by column in arrays allocated once for a whole batch and reused batch after
 * batch: recording a request stores a few numbers and references to strings the request already
 * had (workspace, key id, route pattern), with no object, no array growth and nothing for the
 * garbage collector. Records wait up to a second, long enough to survive young-generation GCs;
 * as objects they were promoted and then cost old-generation GC on the request path, and as
 * growing arrays each batch was copied over and over as it filled.
 */
class Columns {
  n = 0;
  readonly workspaceId: string[];
  readonly keyId: (string | null)[];
  readonly source: UsageSource[];
  readonly method: string[];
  readonly route: string[];
  readonly status: Uint16Array;
  readonly latencyMs: Float64Array;
  readonly code: (string | null)[];
  /** 1: counted. */
  readonly counted: Uint8Array;
  /** Epoch ms. */
  readonly at: Float64Array;

  constructor(readonly capacity: number) {
    this.workspaceId = new Array<string>(capacity);
    this.keyId = new Array<string | null>(capacity);
    this.source = new Array<UsageSource>(capacity);
    this.method = new Array<string>(capacity);
    this.route = new Array<string>(capacity);
    this.status = new Uint16Array(capacity);
    this.latencyMs = new Float64Array(capacity);
    this.code = new Array<string | null>(capacity);
    this.counted = new Uint8Array(capacity);
    this.at = new Float64Array(capacity);
  }

  push(input: UsageInput): void {
    const i = this.n++;
    this.workspaceId[i] = input.workspaceId;
    this.keyId[i] = input.keyId;
    this.source[i] = input.source;
    this.method[i] = input.method;
    this.route[i] = input.route;
    this.status[i] = input.status;
    this.latencyMs[i] = input.latencyMs > 0 ? input.latencyMs : 0;
    this.code[i] = input.code ?? null;
    this.counted[i] = input.counted === false ? 0 : 1;
    this.at[i] = input.at ? input.at.getTime() : Date.now();
  }

  /** The first `n` records, as a new batch (a failed batch put back within the buffer bound). */
  head(n: number): Columns {
    const c = new Columns(this.capacity);
    for (const name of STRING_COLUMNS) for (let i = 0; i < n; i++) c[name][i] = this[name][i]!;
    c.status.set(this.status.subarray(0, n));
    c.latencyMs.set(this.latencyMs.subarray(0, n));
    c.counted.set(this.counted.subarray(0, n));
    c.at.set(this.at.subarray(0, n));
    c.n = n;
    return c;
  }

  /** Empty again, for the next batch; the written records' strings are let go. */
  clear(): void {
    for (const name of STRING_COLUMNS) this[name].fill(null as never, 0, this.n);
    this.n = 0;
  }
}

const STRING_COLUMNS = ['workspaceId', 'keyId', 'source', 'method', 'route', 'code'] as const;

/**
 * Per-process usage buffer. `record()` only stores a few array slots, so no request waits on
 * PostgreSQL; batches go out by COPY (raw rows) plus one upsert per rollup table, in one
 * transaction, so raw rows and rollups never disagree. Up to two batches are written at once on
 * separate connections, so building one batch's COPY data and rollups overlaps PostgreSQL
 * writing the other. On a crash the loss is bounded by what was buffered or in flight: at most
 * one flush interval of traffic and never more than `maxBuffer` records, since records being
 * written count against the bound too.
 *
 * It owns a small `pg` pool rather than borrowing MikroORM's: COPY FROM STDIN needs a raw
 * driver connection, and usage writes must not queue behind request queries for a connection.
 */
export class UsageRecorder {
  /** Full batches waiting to be written, oldest first. */
  private queue: Columns[] = [];
  /** The batch being filled. */
  private current: Columns;
  /** Written batches, emptied for reuse: a steady stream allocates no new columns. */
  private readonly spare: Columns[] = [];
  /** Records waiting in `queue` and `current`. */
  private count = 0;
  /** Records in batches being written: still lost on a crash, so inside the bound. */
  private inFlight = 0;
  /** Starts writing a just-filled batch when a drain is already running with a writer free. */
  private kick: (() => void) | undefined;
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly maxBuffer: number;
  private readonly afterFlush?: () => Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** After a failed write, batch-size triggers wait this long: no retry storm while PostgreSQL is down. */
  private retryAfter = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private lastDropWarning = 0;
  readonly stats: Omit<RecorderStats, 'buffered'> = { recorded: 0, written: 0, dropped: 0, failedBatches: 0 };
  /** Told how long each batch write took and whether it committed (the flush-duration metric). */
  onBatchWritten: ((durationMs: number, ok: boolean) => void) | undefined;

  constructor(opts: RecorderOptions) {
    this.pool = new pg.Pool({ connectionString: opts.databaseUrl, max: WRITERS });
    this.pool.on('error', (err) => opts.log.warn({ error: connectionErrorFields(err) }, 'usage writer connection error'));
    this.log = opts.log;
    this.batchSize = opts.batchSize ?? 50_000;
    this.current = new Columns(this.batchSize);
    this.maxBuffer = opts.maxBuffer ?? 100_000;
    this.afterFlush = opts.afterFlush;
    this.timer = setInterval(() => void this.drainOnce(), opts.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Never throws, never waits: false when the record was dropped because the buffer is full.
   * The recorder keeps references to the input's strings, not the object.
   */
  record(input: UsageInput): boolean {
    if (this.count + this.inFlight >= this.maxBuffer || this.closed) {
      this.stats.dropped++;
      const now = Date.now();
      if (now - this.lastDropWarning > 10_000) {
        this.lastDropWarning = now;
        this.log.warn({ dropped: this.stats.dropped, maxBuffer: this.maxBuffer }, 'usage buffer full: records dropped');
      }
      return false;
    }
    this.stats.recorded++;
    this.count++;
    this.current.push(input);
    if (this.current.n >= this.batchSize) {
      this.queue.push(this.current);
      this.current = this.emptyColumns();
      if (Date.now() >= this.retryAfter) {
        // A full batch goes now, with the partly filled one at most once (as a tick writes), not a
        // drain until empty that would chase a steady stream in slivers.
        if (this.running) this.kick?.();
        else void this.drainOnce();
      }
    }
    return true;
  }

  private emptyColumns(): Columns {
    return this.spare.pop() ?? new Columns(this.batchSize);
  }

  /** Records not yet committed: waiting, or in a batch being written. */
  get buffered(): number {
    return this.count + this.inFlight;
  }

  /** Writes everything buffered so far; resolves once it is committed (or given up on). */
  async flush(): Promise<void> {
    // One drain at a time. One under way (the timer's) may already be past taking batches: wait it
    // out, then drain until the buffer is empty, so records added meanwhile go too.
    while (this.running) await this.running;
    await this.startDrain(true);
  }

  /**
   * The timer's write: what is buffered now, once (full batches always go at once). Records that
   * arrive meanwhile wait for the next tick instead of following in a batch of their own: under a
   * steady load a drain that looped wrote back to back in batches of ~200 records, and each
   * batch's fixed cost (a transaction, four rollup upserts PostgreSQL parses and plans anew) came
   * to more than its rows (BENCHMARKS.md, "The usage recorder writes a batch a tick").
   */
  private drainOnce(): Promise<void> {
    return this.startDrain(false);
  }

  private startDrain(untilEmpty: boolean): Promise<void> {
    this.running ??= this.drain(untilEmpty).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Stops the timer and writes what is left; the last thing a process does before exiting. Every
   * call gets the same promise: a second shutdown path must not end the pool twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      await this.flush();
      this.closed = true;
      await this.pool.end();
    })();
    return this.closing;
  }

  /**
   * Full batches go out as soon as a writer is free; the partly filled one only when no write is
   * in flight, and once a drain unless it is an explicit flush(), so a steady stream is written
   * in a batch a tick rather than in slivers.
   */
  private async drain(untilEmpty: boolean): Promise<void> {
    let tookPartial = false;
    const ok = await new Promise<boolean>((resolve) => {
      let writing = 0;
      let failed = false;
      let done = false;
      const pump = () => {
        while (!failed && writing < WRITERS) {
          let batch: Columns | undefined = this.queue.shift();
          if (!batch && writing === 0 && this.current.n > 0 && (untilEmpty || !tookPartial)) {
            tookPartial = true;
            batch = this.current;
            this.current = this.emptyColumns();
          }
          if (!batch) break;
          const taken = batch;
          this.count -= taken.n;
          this.inFlight += taken.n;
          writing++;
          const started = performance.now();
          this.write(taken).then(
            () => {
              this.inFlight -= taken.n;
              this.stats.written += taken.n;
              this.onBatchWritten?.(performance.now() - started, true);
              if (this.spare.length <= WRITERS) {
                taken.clear();
                this.spare.push(taken);
              }
            },
            (err: unknown) => {
              this.inFlight -= taken.n;
              this.onBatchWritten?.(performance.now() - started, false);
              failed = true;
              this.stats.failedBatches++;
              // Put the batch back if there is room, so a brief database outage loses nothing; the
              // buffer bound still holds, and the next tick retries.
              const room = Math.min(taken.n, this.maxBuffer - this.count - this.inFlight);
              if (room > 0) {
                this.queue.unshift(room === taken.n ? taken : taken.head(room));
                this.count += room;
              }
              this.stats.dropped += taken.n - Math.max(0, room);
              this.retryAfter = Date.now() + 1_000;
              this.log.error({ err, records: taken.n }, 'usage batch write failed');
            },
          ).finally(() => {
            writing--;
            pump();
          });
        }
        if (writing === 0 && !done) {
          done = true;
          this.kick = undefined;
          resolve(!failed);
        }
      };
      this.kick = () => {
        if (!done) pump();
      };
      pump();
    });
    if (ok && this.afterFlush) {
      try {
        await this.afterFlush();
      } catch (err) {
        this.log.warn({ err }, 'usage after-flush hook failed');
      }
    }
  }

  private async write(batch: Columns): Promise<void> {
    const client = await this.pool.connect();
    try {
      // raw SQL: the recorder's own pg client (COPY needs one), so its transaction is spelled out too
      await client.query('begin');
      await copyColumns(client, batch);
      const { minute, hour, day } = await rollups(batch);
      await upsertRollups(client, 'usage_minute', minute, 'int');
      await upsertRollups(client, 'usage_hour', hour, 'bigint');
      await upsertRollups(client, 'usage_day', day, 'bigint');
      await upsertDayTotals(client, day);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

/** Batches written at once, each on its own connection. */
export const WRITERS = 2;

export const USAGE_COLUMNS = 'workspace_id, key_id, source, method, route, status, latency_ms, code, counted, created_at';

/** A batch by COPY BINARY (copy-binary.ts). */
async function copyColumns(client: pg.PoolClient | pg.Client, c: Columns): Promise<void> {
  // raw SQL: COPY FROM STDIN has no query builder, and it is the usage benchmark's measured write path
  const stream = client.query(copyFrom(`copy usage_record (${USAGE_COLUMNS}) from stdin with (format binary)`));
  await pipeline(Readable.from(binaryCopyChunks(c)), stream);
}

/** Raw rows by COPY, outside the recorder (benchmarks, tools). */
export async function copyRows(client: pg.PoolClient | pg.Client, rows: UsageInput[]): Promise<void> {
  const c = new Columns(rows.length);
  for (const r of rows) c.push(r);
  await copyColumns(client, c);
}

/** What a rollup row sums. */
interface Sums {
  calls: number;
  e4: number;
  e5: number;
  /** Calls a verification refused: a code other than VALID. */
  refused: number;
  sum: number;
  max: number;
  hist: number[];
}

/** `from`'s sums added into `into`'s. */
function addSums(into: Sums, from: Sums): void {
  into.calls += from.calls;
  into.e4 += from.e4;
  into.e5 += from.e5;
  into.refused += from.refused;
  into.sum += from.sum;
  if (from.max > into.max) into.max = from.max;
  for (let i = 0; i < from.hist.length; i++) into.hist[i]! += from.hist[i]!;
}

interface Agg extends Sums {
  workspaceId: string;
  bucket: number;
  keyId: string;
  route: string;
}

/** Rows summed between event-loop turns: one pass over a second of 9,000 verifications held the loop 3-9 ms. */
const ROLLUP_SLICE = 2_000;

/**
 * Counted rows summed per (workspace, bucket, key, "METHOD route") for minutes, a slice of rows per
 * event-loop turn so that requests are not held behind a batch's sums; hours and days are then
 * summed from the minutes, a few per group, not row by row (half the time a batch took;
 * BENCHMARKS.md, "Usage batches encoded and summed"). Each row finds its group by the strings it
 * already holds (Groups): no string is built per row. Sorted so concurrent writers lock rows in one
 * order.
 */
async function rollups(c: Columns): Promise<{ minute: Agg[]; hour: Agg[]; day: Agg[] }> {
  const groups = new Groups();
  const minute = new Grain(MINUTE, groups);
  for (let from = 0; from < c.n; from += ROLLUP_SLICE) {
    if (from > 0) await setImmediate();
    const to = Math.min(c.n, from + ROLLUP_SLICE);
    for (let i = from; i < to; i++) {
      if (!c.counted[i]) continue;
      const g = groups.of(c.workspaceId[i]!, c.keyId[i] ?? '', c.method[i]!, c.route[i]!);
      const latency = c.latencyMs[i]!;
      const code = c.code[i];
      minute.add(c.at[i]!, g, c.status[i]!, code !== null && code !== undefined && code !== 'VALID', latency, bucketOf(latency));
    }
  }
  const hour = new Grain(HOUR, groups);
  const day = new Grain(DAY, groups);
  for (const [g, a] of minute.each()) {
    hour.fold(g, a);
    day.fold(g, a);
  }
  return { minute: minute.sorted(), hour: hour.sorted(), day: day.sorted() };
}

/**
 * A batch's (workspace, key, method, route) groups, numbered as first seen, found by nested maps on
 * those strings (whose hashes the strings keep). Each key's last group is kept at hand: a row like
 * its key's last one, the usual case even with keys interleaved row by row, is one look-up, not four.
 */
class Groups {
  readonly list: { workspaceId: string; keyId: string; method: string; bareRoute: string; route: string }[] = [];
  private readonly tree = new Map<string, Map<string, Map<string, Map<string, number>>>>();
  private readonly lastOfKey = new Map<string, number>();

  of(ws: string, keyId: string, method: string, route: string): number {
    const last = this.lastOfKey.get(keyId);
    if (last !== undefined) {
      const l = this.list[last]!;
      if (l.workspaceId === ws && l.method === method && l.bareRoute === route) return last;
    }
    const byRoute = child(child(child(this.tree, ws), keyId), method);
    let g = byRoute.get(route);
    if (g === undefined) {
      g = this.list.length;
      this.list.push({ workspaceId: ws, keyId, method, bareRoute: route, route: `${method} ${route}` });
      byRoute.set(route, g);
    }
    this.lastOfKey.set(keyId, g);
    return g;
  }
}

function child<V extends Map<string, unknown>>(m: Map<string, V>, k: string): V {
  let v = m.get(k);
  if (v === undefined) m.set(k, (v = new Map() as V));
  return v;
}

/** One rollup grain: sums by bucket start, then by group number; the current bucket's kept at hand. */
class Grain {
  private readonly byBucket = new Map<number, Agg[]>();
  private last = NaN;
  private aggs!: Agg[];
  constructor(
    private readonly step: number,
    private readonly groups: Groups,
  ) {}

  /** The sums of group `g` in the bucket holding `at`, new at zero if there are none yet. */
  private agg(at: number, g: number): Agg {
    const bucket = at - (at % this.step);
    if (bucket !== this.last) {
      this.last = bucket;
      let aggs = this.byBucket.get(bucket);
      if (!aggs) this.byBucket.set(bucket, (aggs = []));
      this.aggs = aggs;
    }
    let a = this.aggs[g];
    if (!a) {
      const { workspaceId, keyId, route } = this.groups.list[g]!;
      a = this.aggs[g] = { workspaceId, bucket, keyId, route, calls: 0, e4: 0, e5: 0, refused: 0, sum: 0, max: 0, hist: emptyHistogram() };
    }
    return a;
  }

  /** One call. */
  add(at: number, g: number, status: number, refused: boolean, latency: number, h: number): void {
    const a = this.agg(at, g);
    a.calls++;
    if (status >= 400 && status < 500) a.e4++;
    else if (status >= 500) a.e5++;
    if (refused) a.refused++;
    a.sum += latency;
    if (latency > a.max) a.max = latency;
    a.hist[h]!++;
  }

  /** The sums of a finer grain's bucket, added into the bucket that holds it. */
  fold(g: number, from: Agg): void {
    addSums(this.agg(from.bucket, g), from);
  }

  /** Every bucket's sums with their group number. */
  *each(): Generator<[number, Agg]> {
    for (const aggs of this.byBucket.values()) for (let g = 0; g < aggs.length; g++) if (aggs[g]) yield [g, aggs[g]!];
  }

  sorted(): Agg[] {
    return sorted(this.byBucket);
  }
}

/** The order the writer has always locked rollup rows in: by `workspace \0 bucket \0 key \0 route`. */
function sorted(by: Map<number, Agg[]>): Agg[] {
  const keyed: [string, Agg][] = [];
  for (const aggs of by.values()) for (const a of aggs) if (a) keyed.push([`${a.workspaceId}\u0000${a.bucket}\u0000${a.keyId}\u0000${a.route}`, a]);
  return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Element-wise sum by subscript: much cheaper per conflicting row than unnest + array_agg. */
const ADD_HIST = `array[${Array.from({ length: BUCKETS }, (_, i) => `coalesce(t.hist[${i + 1}], 0) + coalesce(excluded.hist[${i + 1}], 0)`).join(', ')}]`;

async function upsertRollups(client: pg.PoolClient, table: 'usage_minute' | 'usage_hour' | 'usage_day', aggs: Agg[], int: 'int' | 'bigint') {
  if (aggs.length === 0) return;
  // raw SQL: one upsert of a whole batch from unnest'ed arrays on the recorder's pg client, measured by the usage benchmark
  await client.query(
    `insert into ${table} as t (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist, refused)
     select w, b, k, r, c, e4, e5, s, m, h::${int}[], x
       from unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::${int}[], $6::${int}[], $7::${int}[], $8::float8[], $9::real[], $10::text[], $11::${int}[])
         as u(w, b, k, r, c, e4, e5, s, m, h, x)
     on conflict (workspace_id, bucket, key_id, route) do update set
       calls = t.calls + excluded.calls,
       errors_4xx = t.errors_4xx + excluded.errors_4xx,
       errors_5xx = t.errors_5xx + excluded.errors_5xx,
       refused = t.refused + excluded.refused,
       latency_sum = t.latency_sum + excluded.latency_sum,
       latency_max = greatest(t.latency_max, excluded.latency_max),
       hist = ${ADD_HIST}`,
    [
      aggs.map((a) => a.workspaceId),
      aggs.map((a) => new Date(a.bucket).toISOString()),
      aggs.map((a) => a.keyId),
      aggs.map((a) => a.route),
      aggs.map((a) => a.calls),
      aggs.map((a) => a.e4),
      aggs.map((a) => a.e5),
      aggs.map((a) => a.sum),
      aggs.map((a) => a.max),
      aggs.map((a) => `{${a.hist.join(',')}}`),
      aggs.map((a) => a.refused),
    ],
  );
}

/**
 * The day rows summed per workspace and day into usage_day_total (a workspace's summary and the
 * provider's charts read one row per workspace and day there). A batch spans one or two days, so this is a few rows, in (day,
 * workspace) order: the order every writer locks them in.
 */
async function upsertDayTotals(client: pg.PoolClient, day: Agg[]) {
  const totals = new Map<string, Sums & { bucket: number; workspaceId: string }>();
  for (const a of day) {
    const k = `${a.bucket}\u0000${a.workspaceId}`;
    let t = totals.get(k);
    if (!t) totals.set(k, (t = { bucket: a.bucket, workspaceId: a.workspaceId, calls: 0, e4: 0, e5: 0, refused: 0, sum: 0, max: 0, hist: emptyHistogram() }));
    addSums(t, a);
  }
  if (totals.size === 0) return;
  const rows = [...totals.values()].sort((a, b) => a.bucket - b.bucket || (a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : 0));
  // raw SQL: one upsert of the batch's workspace-day totals from unnest'ed arrays, beside the rollups, measured by the usage benchmark
  await client.query(
    `insert into usage_day_total as t (bucket, workspace_id, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
     select b, w, c, e4, e5, s, m, h::bigint[]
       from unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[], $7::real[], $8::text[]) as u(b, w, c, e4, e5, s, m, h)
     on conflict (bucket, workspace_id) do update set
       calls = t.calls + excluded.calls,
       errors_4xx = t.errors_4xx + excluded.errors_4xx,
       errors_5xx = t.errors_5xx + excluded.errors_5xx,
       latency_sum = t.latency_sum + excluded.latency_sum,
       latency_max = greatest(t.latency_max, excluded.latency_max),
       hist = ${ADD_HIST}`,
    [
      rows.map((r) => new Date(r.bucket).toISOString()),
      rows.map((r) => r.workspaceId),
      rows.map((r) => r.calls),
      rows.map((r) => r.e4),
      rows.map((r) => r.e5),
      rows.map((r) => r.sum),
      rows.map((r) => r.max),
      rows.map((r) => `{${r.hist.join(',')}}`),
    ],
  );
}
