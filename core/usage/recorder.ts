import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../log.js';
import { BUCKETS, bucketOf, emptyHistogram } from './histogram.js';

export type UsageSource = 'api' | 'verification' | 'service';

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

interface Row {
  workspaceId: string;
  keyId: string | null;
  source: UsageSource;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  code: string | null;
  counted: boolean;
  at: Date;
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
const DAY = 86_400_000;

/**
 * Per-process usage buffer. `record()` only pushes to an array, so no request waits on
 * PostgreSQL; batches go out by COPY (raw rows) plus one upsert per rollup table, in one
 * transaction, so raw rows and rollups never disagree. On a crash the loss is bounded by what
 * was buffered: at most one flush interval of traffic and never more than `maxBuffer` records.
 *
 * It owns a small `pg` pool rather than borrowing MikroORM's: COPY FROM STDIN needs a raw
 * driver connection, and usage writes must not queue behind request queries for a connection.
 */
export class UsageRecorder {
  private buffer: Row[] = [];
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
  private lastDropWarning = 0;
  readonly stats: Omit<RecorderStats, 'buffered'> = { recorded: 0, written: 0, dropped: 0, failedBatches: 0 };

  constructor(opts: RecorderOptions) {
    this.pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 2 });
    this.pool.on('error', (err) => opts.log.warn({ err }, 'usage writer connection error'));
    this.log = opts.log;
    this.batchSize = opts.batchSize ?? 50_000;
    this.maxBuffer = opts.maxBuffer ?? 100_000;
    this.afterFlush = opts.afterFlush;
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Never throws, never waits: false when the record was dropped because the buffer is full. */
  record(input: UsageInput): boolean {
    if (this.buffer.length >= this.maxBuffer || this.closed) {
      this.stats.dropped++;
      const now = Date.now();
      if (now - this.lastDropWarning > 10_000) {
        this.lastDropWarning = now;
        this.log.warn({ dropped: this.stats.dropped, maxBuffer: this.maxBuffer }, 'usage buffer full: records dropped');
      }
      return false;
    }
    this.stats.recorded++;
    this.buffer.push({
      workspaceId: input.workspaceId,
      keyId: input.keyId,
      source: input.source,
      method: input.method,
      route: input.route,
      status: input.status,
      latencyMs: Math.max(0, input.latencyMs),
      code: input.code ?? null,
      counted: input.counted ?? true,
      at: input.at ?? new Date(),
    });
    if (this.buffer.length >= this.batchSize && !this.running && Date.now() >= this.retryAfter) void this.flush();
    return true;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered so far; resolves once it is committed (or given up on). */
  flush(): Promise<void> {
    // One drain at a time; it loops until the buffer is empty, so records added meanwhile go too.
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and writes what is left; the last thing a process does before exiting. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
    await this.pool.end();
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.write(batch);
        this.stats.written += batch.length;
      } catch (err) {
        this.stats.failedBatches++;
        // Put the batch back if there is room, so a brief database outage loses nothing; the
        // buffer bound still holds, and the next tick retries.
        const room = this.maxBuffer - this.buffer.length;
        if (room > 0) this.buffer.unshift(...batch.slice(0, room));
        this.stats.dropped += Math.max(0, batch.length - room);
        this.retryAfter = Date.now() + 1_000;
        this.log.error({ err, records: batch.length }, 'usage batch write failed');
        return;
      }
    }
    if (this.afterFlush) {
      try {
        await this.afterFlush();
      } catch (err) {
        this.log.warn({ err }, 'usage after-flush hook failed');
      }
    }
  }

  private async write(batch: Row[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await copyRows(client, batch);
      await upsertRollups(client, 'usage_minute', rollup(batch, MINUTE), 'int');
      await upsertRollups(client, 'usage_day', rollup(batch, DAY), 'bigint');
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export const USAGE_COLUMNS = 'workspace_id, key_id, source, method, route, status, latency_ms, code, counted, created_at';

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
const NEEDS_ESCAPE = /[\\\t\n\r]/;

function copyText(s: string | null): string {
  if (s === null) return '\\N';
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

let lastTime = NaN;
let lastIso = '';
/** Records of one batch share few distinct milliseconds: format each once. */
function iso(d: Date): string {
  const t = d.getTime();
  if (t !== lastTime) {
    lastTime = t;
    lastIso = d.toISOString();
  }
  return lastIso;
}

export function copyLine(r: Row): string {
  return `${copyText(r.workspaceId)}\t${copyText(r.keyId)}\t${copyText(r.source)}\t${copyText(r.method)}\t${copyText(r.route)}\t${r.status}\t${r.latencyMs}\t${copyText(r.code)}\t${r.counted ? 't' : 'f'}\t${iso(r.at)}\n`;
}

export async function copyRows(client: pg.PoolClient | pg.Client, rows: Row[]): Promise<void> {
  const stream = client.query(copyFrom(`copy usage_record (${USAGE_COLUMNS}) from stdin`));
  // Chunks of ~1,000 lines: one string per row would cost a stream write each.
  function* chunks() {
    for (let i = 0; i < rows.length; i += 1000) {
      let s = '';
      for (let j = i; j < Math.min(rows.length, i + 1000); j++) s += copyLine(rows[j]!);
      yield s;
    }
  }
  await pipeline(Readable.from(chunks()), stream);
}

interface Agg {
  workspaceId: string;
  bucket: number;
  keyId: string;
  route: string;
  calls: number;
  e4: number;
  e5: number;
  sum: number;
  max: number;
  hist: number[];
}

/** Counted rows summed per (workspace, bucket, key, "METHOD route"), sorted so concurrent writers lock rows in one order. */
function rollup(rows: Row[], width: number): Agg[] {
  const map = new Map<string, Agg>();
  for (const r of rows) {
    if (!r.counted) continue;
    const bucket = Math.floor(r.at.getTime() / width) * width;
    const keyId = r.keyId ?? '';
    const route = `${r.method} ${r.route}`;
    const k = `${r.workspaceId}\u0000${bucket}\u0000${keyId}\u0000${route}`;
    let a = map.get(k);
    if (!a) {
      a = { workspaceId: r.workspaceId, bucket, keyId, route, calls: 0, e4: 0, e5: 0, sum: 0, max: 0, hist: emptyHistogram() };
      map.set(k, a);
    }
    a.calls++;
    if (r.status >= 400 && r.status < 500) a.e4++;
    else if (r.status >= 500) a.e5++;
    a.sum += r.latencyMs;
    if (r.latencyMs > a.max) a.max = r.latencyMs;
    a.hist[bucketOf(r.latencyMs)]!++;
  }
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Element-wise sum by subscript: much cheaper per conflicting row than unnest + array_agg. */
const ADD_HIST = `array[${Array.from({ length: BUCKETS }, (_, i) => `coalesce(t.hist[${i + 1}], 0) + coalesce(excluded.hist[${i + 1}], 0)`).join(', ')}]`;

async function upsertRollups(client: pg.PoolClient, table: 'usage_minute' | 'usage_day', aggs: Agg[], int: 'int' | 'bigint') {
  if (aggs.length === 0) return;
  await client.query(
    `insert into ${table} as t (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
     select w, b, k, r, c, e4, e5, s, m, h::${int}[]
       from unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::${int}[], $6::${int}[], $7::${int}[], $8::float8[], $9::real[], $10::text[])
         as u(w, b, k, r, c, e4, e5, s, m, h)
     on conflict (workspace_id, bucket, key_id, route) do update set
       calls = t.calls + excluded.calls,
       errors_4xx = t.errors_4xx + excluded.errors_4xx,
       errors_5xx = t.errors_5xx + excluded.errors_5xx,
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
    ],
  );
}
