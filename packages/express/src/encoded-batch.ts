// A batch of usage reports held as the JSON `POST /v1/usage` sends, written as each report
// arrives. Report objects kept until their batch is sent (5,000 of them, about half a second on a
// busy service) outlive the young generation, and the batch's JSON.stringify cost about 2,500
// instructions a report (callgrind, BENCHMARKS.md). Encoded at once, straight into bytes, a report's
// object dies young, and the batch is bytes outside the JS heap, in a buffer reused for the next.
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

/** Writes `v`, an integer from 0 to 2^31 - 1, as decimal digits at `at`; returns where it ends. */
function writeDigits(buf: Buffer, at: number, v: number): number {
  let end = at + 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) end++;
  let pos = end;
  do {
    const q = (v / 10) | 0;
    buf[--pos] = 48 + v - q * 10;
    v = q;
  } while (v > 0);
  return end;
}

/** Writes a number as JSON.stringify would (its text is ASCII); returns where it ends. */
function writeNumber(buf: Buffer, at: number, n: number): number {
  // The usual cases without making a string: a whole status code, and a latency in hundredths of a
  // millisecond (what the middleware reports), whose shortest form is its digits with trailing zeros
  // dropped while a hundredth is far coarser than the spacing of doubles near n (n under 10^7 here).
  if (n >= 0 && n < 1e7) {
    const h = Math.round(n * 100);
    if (h / 100 === n) {
      const whole = Math.floor(n);
      at = writeDigits(buf, at, whole);
      const frac = h - whole * 100;
      if (frac === 0) return at;
      buf[at++] = 46; // .
      const tens = (frac / 10) | 0;
      buf[at++] = 48 + tens;
      if (frac !== tens * 10) buf[at++] = 48 + frac - tens * 10;
      return at;
    }
  }
  const text = num(n);
  for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
  return at;
}

/**
 * A busy service's consecutive reports mostly share their key, method and route, and their time
 * and code: the row's start and end are kept from the last report, as UTF-8, and copied while those
 * are the very same strings (compared by identity first, which is what they are: cached by the guard
 * and by Express), and the two numbers between them are written as digits. No string is made for a
 * row: a row made as one string and written with `Buffer.write` was ~1.4 µs of a cached request's
 * ~3 µs in the guard (flattening and UTF-8 encoding it; profiled in BENCHMARKS.md).
 */
let headKey: string | null = null;
let headMethod = '';
let headRoute = '';
let head: Buffer | undefined;
let tailTime = '';
let tailCode: string | null = null;
let tail: Buffer | undefined;
const LATENCY = Buffer.from(',"latency_ms":');
/** The most the two numbers and what is between them take: 24 characters each at most, as JSON writes a double. */
const NUMBERS_MAX = 48 + LATENCY.length;

/** `{"key_id":…,"method":…,"route":…,"status":` of `r`. */
function headOf(r: UsageReport): Buffer {
  if (r.key_id !== headKey || r.method !== headMethod || r.route !== headRoute || head === undefined) {
    headKey = r.key_id;
    headMethod = r.method;
    headRoute = r.route;
    head = Buffer.from(`{"key_id":${str(r.key_id)},"method":${str(r.method)},"route":${str(r.route)},"status":`);
  }
  return head;
}

/** `,"time":…,"code":…},` of `r`: the row's end and the comma after it. */
function tailOf(r: UsageReport): Buffer {
  if (r.time !== tailTime || r.code !== tailCode || tail === undefined) {
    tailTime = r.time;
    tailCode = r.code;
    tail = Buffer.from(`,"time":${JSON.stringify(r.time)},"code":${str(r.code)}},`);
  }
  return tail;
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
    const h = headOf(r);
    const t = tailOf(r);
    // `]}` is written after the last row.
    const room = h.length + NUMBERS_MAX + t.length + CLOSE.length;
    if (this.used + room > this.bytes.length) this.grow(this.used + room);
    const bytes = this.bytes;
    bytes.set(h, this.used);
    let at = writeNumber(bytes, this.used + h.length, r.status);
    bytes.set(LATENCY, at);
    at = writeNumber(bytes, at + LATENCY.length, r.latency_ms);
    bytes.set(t, at);
    this.used = at + t.length;
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
