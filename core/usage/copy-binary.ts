// A batch of usage records in PostgreSQL's binary COPY format, written straight from the
// recorder's columns into buffers. In the text format, building each row (a dozen strings joined,
// the latency a double printed as decimal), flattening the chunk and encoding it again as UTF-8
// took about 45 % of the CPU a batch write costs the API; here a row is a few fixed-width writes
// and copies of byte strings made once per distinct value, about 12 % (profiles, BENCHMARKS.md,
// 2026-12-03). PostgreSQL parses no numbers or timestamps either.
import { setImmediate } from 'node:timers/promises';

/** The columns a batch holds, in USAGE_COLUMNS order (recorder.ts). */
export interface UsageColumns {
  readonly n: number;
  readonly workspaceId: readonly string[];
  readonly keyId: readonly (string | null)[];
  readonly source: readonly string[];
  readonly method: readonly string[];
  readonly route: readonly string[];
  readonly status: Uint16Array;
  readonly latencyMs: Float64Array;
  readonly code: readonly (string | null)[];
  readonly counted: Uint8Array;
  /** Epoch ms. */
  readonly at: Float64Array;
}

/** `PGCOPY\n\377\r\n\0`, no flags, no header extension. */
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const FIELDS = 10;
/** A tuple's field count of -1 ends the data. */
const TRAILER = Buffer.from([0xff, 0xff]);
/** PostgreSQL's timestamps count microseconds from 2000-01-01 UTC. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
/** Bytes after a row's leading text columns and its code: status, latency, counted, created_at with their lengths. */
const FIXED_TAIL = 4 + 2 + 4 + 4 + 4 + 1 + 4 + 8;

const CHUNK_BYTES = 64 * 1024;

/**
 * A text field (length, then UTF-8 bytes) or NULL (length -1). Workspace ids, key ids, routes and
 * codes repeat from record to record: each value is encoded once. Bounded.
 */
const fields = new Map<string, Buffer>();
const FIELDS_MAX = 4_096;
const NULL_FIELD = Buffer.from([0xff, 0xff, 0xff, 0xff]);

function field(s: string | null): Buffer {
  if (s === null) return NULL_FIELD;
  let b = fields.get(s);
  if (b === undefined) {
    const bytes = Buffer.from(s, 'utf8');
    b = Buffer.allocUnsafe(4 + bytes.length);
    b.writeInt32BE(bytes.length, 0);
    bytes.copy(b, 4);
    if (fields.size >= FIELDS_MAX) fields.clear();
    fields.set(s, b);
  }
  return b;
}

/**
 * The batch as COPY BINARY data, in chunks of about 64 KB, each a new buffer (the copy stream may
 * hold a chunk until it is sent). A run of records from the same workspace, key, source, method
 * and route shares its leading fields, and a key's are joined again only when they change: with
 * keys interleaved row by row, joining them at each change of caller cost 1.29 µs a row against
 * 0.46 (BENCHMARKS.md, "Usage batches encoded and summed").
 *
 * The event loop gets a turn after each chunk (about 1,000 rows): the copy stream never pushes
 * back, so a whole batch (a second of traffic, 40,000 rows) was encoded in one stretch of 5–10 ms
 * that every request arriving meanwhile waited out (BENCHMARKS.md, 2026-12-07, "a usage batch encoded a chunk a turn").
 */
export async function* binaryCopyChunks(c: UsageColumns): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let pos = HEADER.copy(buf, 0);
  let head: Buffer = Buffer.alloc(0);
  for (let i = 0; i < c.n; i++) {
    if (i === 0 || c.workspaceId[i] !== c.workspaceId[i - 1] || c.keyId[i] !== c.keyId[i - 1] || c.source[i] !== c.source[i - 1] || c.method[i] !== c.method[i - 1] || c.route[i] !== c.route[i - 1]) {
      head = leadingFieldsOf(c.workspaceId[i]!, c.keyId[i]!, c.source[i]!, c.method[i]!, c.route[i]!);
    }
    const code = field(c.code[i]!);
    const need = head.length + code.length + FIXED_TAIL;
    if (pos + need > buf.length) {
      yield buf.subarray(0, pos);
      await setImmediate();
      buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need + TRAILER.length));
      pos = 0;
    }
    buf.set(head, pos);
    pos += head.length;
    pos = buf.writeInt32BE(2, pos);
    pos = buf.writeInt16BE(c.status[i]!, pos);
    pos = buf.writeInt32BE(4, pos);
    pos = buf.writeFloatBE(c.latencyMs[i]!, pos);
    buf.set(code, pos);
    pos += code.length;
    pos = buf.writeInt32BE(1, pos);
    buf[pos++] = c.counted[i] ? 1 : 0;
    pos = buf.writeInt32BE(8, pos);
    const us = Math.round((c.at[i]! - PG_EPOCH_MS) * 1000);
    const high = Math.floor(us / TWO_32);
    pos = buf.writeInt32BE(high, pos);
    pos = buf.writeUInt32BE(us - high * TWO_32, pos);
  }
  if (pos + TRAILER.length > buf.length) {
    yield buf.subarray(0, pos);
    buf = Buffer.allocUnsafe(TRAILER.length);
    pos = 0;
  }
  pos += TRAILER.copy(buf, pos);
  yield buf.subarray(0, pos);
}

/** The field count and the five leading text fields of a row. */
function leadingFields(workspaceId: string, keyId: string | null, source: string, method: string, route: string): Buffer {
  const parts = [field(workspaceId), field(keyId), field(source), field(method), field(route)];
  const b = Buffer.allocUnsafe(2 + parts.reduce((n, p) => n + p.length, 0));
  let pos = b.writeInt16BE(FIELDS, 0);
  for (const p of parts) pos += p.copy(b, pos);
  return b;
}

interface Lead {
  workspaceId: string;
  source: string;
  method: string;
  route: string;
  head: Buffer;
}
/** Each key's last leading fields, by key id. Bounded as `fields` is. */
const leads = new Map<string | null, Lead>();

function leadingFieldsOf(workspaceId: string, keyId: string | null, source: string, method: string, route: string): Buffer {
  const l = leads.get(keyId);
  if (l !== undefined && l.workspaceId === workspaceId && l.source === source && l.method === method && l.route === route) return l.head;
  const head = leadingFields(workspaceId, keyId, source, method, route);
  if (leads.size >= FIELDS_MAX) leads.clear();
  leads.set(keyId, { workspaceId, source, method, route, head });
  return head;
}
