// A batch of usage reports held as the JSON `POST /v1/usage` sends, written as each report
// arrives. Report objects kept until their batch is sent (5,000 of them, about half a second on a
// busy service) outlive the young generation, and the batch's JSON.stringify cost about 2,500
// instructions a report (callgrind, BENCHMARKS.md). Encoded at once, a report's object and its row
// string die young, and the batch is bytes outside the JS heap, in a buffer reused for the next.
import type { UsageReport } from '@gatehouse/client/rest';

/** Route patterns, key ids, methods and codes repeat: each is encoded once. Bounded. */
const encoded = new Map<string, string>();
const ENCODED_MAX = 4_096;

function str(s: string | null): string {
  if (s === null) return 'null';
  let e = encoded.get(s);
  if (e === undefined) {
    e = JSON.stringify(s);
    if (encoded.size >= ENCODED_MAX) encoded.clear();
    encoded.set(s, e);
  }
  return e;
}

/** JSON's number, or null where JSON has none (NaN, Infinity), as JSON.stringify writes them. */
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

/**
 * A busy service's consecutive reports mostly share their key, method and route, and their time
 * and code: the row's start and end are kept from the last report and reused while those are the
 * very same strings (compared by identity first, which is what they are: cached by the guard and
 * by Express), so a row is usually five pieces joined, not seven fields encoded.
 */
let headKey: string | null = null;
let headMethod = '';
let headRoute = '';
let head = '';
let tailTime = '';
let tailCode: string | null = null;
let tail = '';

/** One report as JSON, a comma after it: `{"key_id":…,"code":…},`. The same fields JSON.stringify of a UsageReport writes. */
function row(r: UsageReport): string {
  if (r.key_id !== headKey || r.method !== headMethod || r.route !== headRoute || head === '') {
    headKey = r.key_id;
    headMethod = r.method;
    headRoute = r.route;
    head = `{"key_id":${str(r.key_id)},"method":${str(r.method)},"route":${str(r.route)},"status":`;
  }
  if (r.time !== tailTime || r.code !== tailCode || tail === '') {
    tailTime = r.time;
    tailCode = r.code;
    tail = `,"time":${JSON.stringify(r.time)},"code":${str(r.code)}},`;
  }
  return `${head}${num(r.status)},"latency_ms":${num(r.latency_ms)}${tail}`;
}

const OPEN = Buffer.from('{"records":[');
const CLOSE = Buffer.from(']}');

/**
 * Buffers of batches sent, for the next ones: a fresh one per batch is external memory that
 * V8 counts towards its next full garbage collection. A few are kept; one is usually enough.
 */
const spare: Buffer[] = [];
const SPARE_MAX = 4;

export class EncodedBatch {
  private bytes: Buffer;
  /** Bytes written: `{"records":[` and the rows. */
  private used = OPEN.length;
  /** Where each report's row ends in `bytes`. */
  private readonly ends: Uint32Array;
  private count = 0;
  /** Reports dropped from the front (the buffer full while Gatehouse was unreachable). */
  private from = 0;

  constructor(capacity: number) {
    this.ends = new Uint32Array(capacity);
    // Grown by doubling as rows arrive: a batch sent by the timer is often small.
    this.bytes = spare.pop() ?? Buffer.allocUnsafe(64 * 1024);
    OPEN.copy(this.bytes, 0);
  }

  /** Reports held (pushed and not dropped). */
  get length(): number {
    return this.count - this.from;
  }

  get full(): boolean {
    return this.count === this.ends.length;
  }

  push(r: UsageReport): void {
    const text = row(r);
    // UTF-8 takes at most three bytes per UTF-16 unit; `]}` is written after the last row.
    const room = text.length * 3 + CLOSE.length;
    if (this.used + room > this.bytes.length) this.grow(this.used + room);
    this.used += this.bytes.write(text, this.used, 'utf8');
    this.ends[this.count++] = this.used;
  }

  /** Drops the `n` oldest reports. */
  dropOldest(n: number): void {
    this.from = Math.min(this.count, this.from + n);
  }

  /**
   * `{"records":[…]}` of the reports held, in place: `]}` over the last row's comma, and after
   * dropped rows `{"records":[` over the end of the last one dropped. Valid until `release`.
   */
  body(): Buffer {
    const end = this.count === this.from ? this.used : this.used - 1;
    CLOSE.copy(this.bytes, end);
    const start = this.from === 0 ? 0 : this.ends[this.from - 1]! - OPEN.length;
    if (this.from > 0) OPEN.copy(this.bytes, start);
    return this.bytes.subarray(start, end + CLOSE.length);
  }

  /** Sent or given up: its buffer goes to the next batch. */
  release(): void {
    if (spare.length < SPARE_MAX) spare.push(this.bytes);
    this.bytes = Buffer.alloc(0);
  }

  private grow(atLeast: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(atLeast, this.bytes.length * 2));
    this.bytes.copy(bigger, 0, 0, this.used);
    this.bytes = bigger;
  }
}
