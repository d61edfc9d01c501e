import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { routes } from '../../server/rest/index.js';
import type { AnyRoute } from '../../server/rest/route.js';
import { appRouter } from '../../server/routers/_app.js';
import { startStack, type Stack } from '../harness.js';
import { inputJsonSchema, sample, type JsonSchema } from '../schema-sample.js';

/**
 * Hostile values in every path parameter, query parameter, body field and whole body of every REST
 * route (from the route table) and in every input field and whole input of every tRPC procedure
 * (from the router), sent over HTTP with the bootstrap key (admin + operator), so authorisation never
 * hides a handler. No answer may be a 5xx, and an input that is refused must leave the database as
 * it was.
 */
let stack: Stack;
const fixtures: Record<string, string> = {};

// ---- the corpus -----------------------------------------------------------------------------

type Case = [label: string, fragment: string];
/** A value no route or procedure may take, whatever its schema: refused with a 400 before any handler runs. */
type Refusable = [label: string, fragment: string, refused?: 'refused'];

const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** Page cursors that decode to values PostgreSQL would refuse (the right shape, out of range). */
const CURSORS: Case[] = [
  ['a cursor at month 13, hour 25', cursor(['2024-13-45T25:61:61.000000Z', 'x'])],
  ['a cursor in year 0', cursor(['0000-01-01T00:00:00.000000Z', 'x'])],
  ['a cursor with a NUL in its id', cursor(['2024-01-01T00:00:00.000000Z', 'a\u0000b'])],
  ['a log cursor past the bigint range', cursor(['2024-01-01T00:00:00.000Z', '9999999999999999999'])],
  ['a log cursor 271,821 years BC', cursor(['-271821-04-20T00:00:00.000Z', '1'])],
];

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** JSON fragments. `deep` and `long` are bounded by where they travel: a URL holds far less than a body. */
function jsonCorpus(deep: number, long: number): Refusable[] {
  return [
    ['a NUL in a string', JSON.stringify('fuzz\u0000nul'), 'refused'],
    ['a lone high surrogate', '"fuzz\\ud800"', 'refused'],
    ['a lone low surrogate', '"\\udfffzz"', 'refused'],
    ['a NUL in an object key', '{"a\\u0000b":"x"}', 'refused'],
    ['a lone surrogate in an object key', '{"\\ud800":"x"}', 'refused'],
    [`arrays nested ${deep} deep`, nested(deep), 'refused'],
    [`an object holding arrays nested ${deep} deep`, `{"d":${nested(deep)}}`, 'refused'],
    ...CURSORS.map(([label, value]): Refusable => [label, JSON.stringify(value)]),
    ['1e308', '1e308'],
    ['-1e308', '-1e308'],
    ['2^63', '9223372036854775808'],
    ['-2^63 - 1', '-9223372036854775809'],
    ['2^31', '2147483648'],
    ['2^53 + 1', '9007199254740993'],
    ['1e999 (Infinity once parsed)', '1e999'],
    ['-0.5', '-0.5'],
    ['"NaN"', '"NaN"'],
    ['"Infinity"', '"Infinity"'],
    ['"1e999"', '"1e999"'],
    ['true', 'true'],
    ['null', 'null'],
    ['0', '0'],
    ['an empty string', '""'],
    ['an empty array', '[]'],
    ['an array where an object is expected', '[{"a":1}]'],
    ['an array of strings', '["x"]'],
    ['a __proto__ key', '{"__proto__":{"polluted":true}}'],
    ['a constructor.prototype key', '{"constructor":{"prototype":{"polluted":true}}}'],
    ['a prototype key', '{"prototype":{"polluted":true}}'],
    [`a ${long}-character string`, JSON.stringify('x'.repeat(long))],
  ];
}
/** Bodies: up to the 300 KB limit. */
const BODY_CORPUS = jsonCorpus(50_000, 250_000);
/** tRPC query and subscription inputs travel in the URL (Node refuses request heads over 16 KB). */
const URL_INPUT_CORPUS = jsonCorpus(1_000, 4_000);

/** Path and query values, already percent-encoded. */
const URL_CORPUS: Refusable[] = [
  ['a NUL', 'fuzz%00nul', 'refused'],
  ['only a NUL', '%00', 'refused'],
  ...CURSORS,
  ['an overlong NUL', '%C0%80'],
  ['a UTF-8-encoded surrogate', '%ED%A0%80'],
  ['a truncated escape', '%E0%A4%A'],
  ['a lone %', '%'],
  ['8000 characters', 'x'.repeat(8_000)],
  ['1e308', '1e308'],
  ['2^63', '9223372036854775808'],
  ['-1', '-1'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['0x10', '0x10'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['a space', '%20'],
  ['JSON', encodeURIComponent('{"a":[1]}')],
  ['a traversal', '..%2F..%2Fx'],
  ['a right-to-left override', '%E2%80%AE'],
];

/** Query strings only: shapes that parse to something other than one string. */
const queryShapes = (name: string): Case[] => [
  ['the parameter twice', `${name}=a&${name}=b`],
  ['an empty value', `${name}=`],
  ['brackets', `${name}%5B__proto__%5D=1`],
  ['an array suffix', `${name}%5B%5D=x`],
];

/** Header values (fetch refuses control characters in headers, so the raw-byte ones stay out). */
const HEADER_CORPUS: Case[] = [
  ['8000 characters', 'x'.repeat(8_000)],
  ['a space inside', 'a b'],
  ['latin-1', 'clé'],
  ['__proto__', '__proto__'],
];

// ---- inputs built from the schemas -----------------------------------------------------------

const HOLE = '\u0001fuzz-hole\u0001';
const HOLE_JSON = JSON.stringify(HOLE);

/** Fields whose value must be new each time, or a create would stop at a 409 before reaching the database. */
const UNIQUE_FIELDS = new Set(['id', 'name', 'limit_name', 'limitName']);
let serial = 0;

/**
 * `base` as JSON with the value at `path` replaced by a raw JSON fragment (which may be too deep to
 * stringify), and a fresh value in each unique field that is not a fixture's.
 */
function jsonWith(base: unknown, path: string[], fragment: string): string {
  if (path.length === 0) return fragment;
  const copy = structuredClone(base) as Record<string, unknown>;
  const ids = new Set(Object.values(fixtures));
  for (const [k, v] of Object.entries(copy)) if (UNIQUE_FIELDS.has(k) && typeof v === 'string' && !ids.has(v)) copy[k] = `${v}-${++serial}`;
  let node = copy;
  for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = HOLE;
  return JSON.stringify(copy).replace(HOLE_JSON, () => fragment);
}

/** The object schema inside optional/nullable wrappers, if there is one. */
function objectSchema(s: JsonSchema | undefined): JsonSchema | undefined {
  if (!s) return undefined;
  if (s.properties) return s;
  for (const alt of s.anyOf ?? s.oneOf ?? []) {
    const found = objectSchema(alt);
    if (found) return found;
  }
  return undefined;
}

/** Every field path, into nested objects two levels deep (`patch.name`). */
function fieldPaths(s: JsonSchema | undefined, prefix: string[] = []): string[][] {
  const obj = objectSchema(s);
  if (!obj?.properties) return [];
  return Object.entries(obj.properties).flatMap(([name, sub]) => [
    [...prefix, name],
    ...(prefix.length < 1 ? fieldPaths(sub, [...prefix, name]) : []),
  ]);
}

/**
 * Ids of rows that exist, so hostile values in one field reach the handler instead of stopping at
 * a 404 on another. Chosen by the resource a path segment or procedure names.
 */
function fixtureFor(resource: string, field: string): string | undefined {
  if (field === 'recovery_id' || field === 'recoveryId') return '1';
  if (/limit-?requests?/i.test(resource) && field === 'id') return fixtures['limitRequest'];
  if (field === 'keyId' || field === 'key_id') return fixtures['key'];
  if (field !== 'id') return undefined;
  return {
    'api-keys': fixtures['key'],
    keys: fixtures['key'],
    usage: fixtures['key'],
    webhooks: fixtures['endpoint'],
    events: fixtures['event'],
    deliveries: fixtures['delivery'],
  }[resource];
}

/** A valid input for a schema, with fixture ids where the schema names one. */
function baseInput(schema: JsonSchema | undefined, resource: string): Record<string, unknown> {
  const value = schema ? sample(objectSchema(schema) ?? schema) : {};
  const out = (value && typeof value === 'object' && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  for (const name of Object.keys(objectSchema(schema)?.properties ?? {})) {
    const id = fixtureFor(resource, name);
    if (id !== undefined && name in out) out[name] = name === 'recoveryId' ? Number(id) : id;
  }
  if (resource === 'usage' && Array.isArray(out['ids'])) out['ids'] = [fixtures['key']];
  return out;
}

interface Probe {
  what: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Writes may happen only when the answer is a success. */
  writes: boolean;
  trpc: boolean;
  sse?: boolean;
  /** Must be answered 400: the input guard's to refuse. */
  refused: boolean;
}

function restProbes(route: AnyRoute): Probe[] {
  const method = route.method.toUpperCase() as Probe['method'];
  const paramNames = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const resourceOf = (name: string) => {
    const segments = route.path.split('/');
    return segments[segments.indexOf(`{${name}}`) - 1] ?? '';
  };
  const validParams = Object.fromEntries(paramNames.map((n) => [n, fixtureFor(resourceOf(n), n) ?? 'fuzz-missing']));
  const pathWith = (name?: string, encoded?: string) =>
    route.path.replace(/\{(\w+)\}/g, (_m, n: string) => (n === name ? encoded! : encodeURIComponent(validParams[n]!)));
  const bodySchema = route.body ? inputJsonSchema(route.body as z.ZodType) : undefined;
  const body = route.body ? baseInput(bodySchema, resourceOf('id')) : undefined;
  const bodyText = body === undefined ? undefined : JSON.stringify(body);
  const writes = method !== 'GET';
  const at = `${method} ${route.path}`;
  const probes: Probe[] = [];
  const probe = (what: string, path: string, refused: unknown, text = bodyText, headers?: Record<string, string>) =>
    probes.push({ what: `${at} ${what}`, method, path, body: text, headers, writes, trpc: false, refused: !!refused });

  for (const name of paramNames) for (const [label, value, refused] of URL_CORPUS) probe(`path ${name}: ${label}`, pathWith(name, value), refused);
  const queryFields = route.query ? Object.keys(objectSchema(inputJsonSchema(route.query as z.ZodType))?.properties ?? {}) : [];
  for (const name of queryFields) {
    for (const [label, value, refused] of [...URL_CORPUS.map(([l, v, r]): Refusable => [l, `${name}=${v}`, r]), ...queryShapes(name)]) {
      probe(`query ${name}: ${label}`, `${pathWith()}?${value}`, refused);
    }
  }
  // Reads without inputs get parameters they ignore; a write that ignores them would just succeed
  // against its fixture (a delete, a revoke) and leave later probes nothing to reach. A write that
  // takes no input at all (DELETE /settings/provider-api) gets them too: it is its only probe.
  const takesNoInput = probes.length === 0 && !route.body && !route.headers;
  if (route.query || method === 'GET' || takesNoInput) probe('query: unknown parameters', `${pathWith()}?__proto__=1&constructor=x&fuzz=a%00b`, false);
  for (const name of Object.keys(route.headers?.shape ?? {})) {
    for (const [label, value] of HEADER_CORPUS) probe(`header ${name}: ${label}`, pathWith(), false, bodyText, { [name]: value });
  }
  if (route.body) {
    for (const path of fieldPaths(bodySchema)) {
      for (const [label, fragment, refused] of BODY_CORPUS) probe(`body.${path.join('.')}: ${label}`, pathWith(), refused, jsonWith(body, path, fragment));
    }
    for (const [label, fragment, refused] of BODY_CORPUS) probe(`whole body: ${label}`, pathWith(), refused, fragment);
  }
  return probes;
}

interface ProcedureDef {
  type: 'query' | 'mutation' | 'subscription';
  inputs: z.ZodType[];
}

function trpcProbes(path: string, def: ProcedureDef): Probe[] {
  const schema = def.inputs[0] ? inputJsonSchema(def.inputs[0]) : undefined;
  const resource = path.startsWith('limits.') ? 'limit-requests' : path.split('.')[0]!;
  const base = baseInput(schema, resource);
  const url = def.type !== 'mutation';
  // A procedure without input ignores what it is sent (system.selfTest would run its workflow):
  // it gets what every procedure must refuse.
  const corpus = (url ? URL_INPUT_CORPUS : BODY_CORPUS).filter(([, , refused]) => schema || refused);
  const probes: Probe[] = [];
  const probe = (what: string, input: string, refused: unknown) =>
    probes.push(
      url
        ? { what: `${path} ${what}`, method: 'GET', path: `/trpc/${path}?input=${encodeURIComponent(input)}`, writes: false, trpc: true, sse: def.type === 'subscription', refused: !!refused }
        : { what: `${path} ${what}`, method: 'POST', path: `/trpc/${path}`, body: input, writes: true, trpc: true, refused: !!refused },
    );
  // A subscription's stream has no end: enough that hostile input is refused, not streamed.
  const fields = def.type === 'subscription' ? [] : fieldPaths(schema);
  for (const field of fields) for (const [label, fragment, refused] of corpus) probe(`input.${field.join('.')}: ${label}`, jsonWith(base, field, fragment), refused);
  for (const [label, fragment, refused] of corpus) probe(`whole input: ${label}`, fragment, refused);
  return probes;
}

// ---- the database, watched --------------------------------------------------------------------

/**
 * Tables that change with no input to blame: request logs and their rollups, rate-limit counters,
 * UI sessions. (api_key.last_used_at is filtered in the trigger: the verifier writes it in batches.)
 */
const UNWATCHED = new Set(['usage_record', 'usage_minute', 'usage_hour', 'usage_day', 'usage_day_total', 'usage_month', 'rate_limit_counter', 'ui_session', 'mikro_orm_migrations', 'fuzz_journal']);

/**
 * A journal row per changed row, written by triggers in the same transaction as the change (so a
 * rolled-back write leaves none). Reading its last id after each write request attributes every
 * change to the request that made it, where hashing every table per request would cost more than
 * the request itself.
 */
async function watchDatabase() {
  const em = stack.orm.em.fork();
  await em.execute(`create table fuzz_journal (n bigserial primary key, tbl text not null, op text not null)`);
  await em.execute(`create function fuzz_note() returns trigger language plpgsql as $$
    begin
      if tg_table_name = 'api_key' and tg_op = 'UPDATE' and (to_jsonb(new) - 'last_used_at') = (to_jsonb(old) - 'last_used_at') then return null; end if;
      insert into fuzz_journal (tbl, op) values (tg_table_name, tg_op);
      return null;
    end $$`);
  const tables = await em.execute<{ tablename: string }[]>(`select tablename from pg_tables where schemaname = current_schema()`);
  // usage_record's day partitions (usage_record_pYYYYMMDD, usage_record_default) are usage_record.
  const watched = tables.map((t) => t.tablename).filter((t) => !UNWATCHED.has(t) && !t.startsWith('mikro_orm') && !t.startsWith('usage_record_'));
  for (const t of watched) await em.execute(`create trigger fuzz_note after insert or update or delete on "${t}" for each row execute function fuzz_note()`);
  return watched;
}

async function journalEnd(): Promise<number> {
  // Events marked dispatched in batches (core/webhooks/dispatch-marks.ts): written now, they count
  // with the request that published them, not with whichever request runs when the batch goes.
  await stack.deps.dispatched.flush();
  const [row] = await stack.orm.em.fork().execute<{ n: string | null }[]>(`select max(n) as n from fuzz_journal`);
  return Number(row?.n ?? 0);
}

async function journalSince(n: number): Promise<string> {
  const rows = await stack.orm.em.fork().execute<{ tbl: string; op: string }[]>(`select tbl, op from fuzz_journal where n > ? order by n`, [n]);
  return rows.map((r) => `${r.op} ${r.tbl}`).join(', ');
}

// ---- sending ---------------------------------------------------------------------------------

interface Answer {
  status: number;
  problem?: string;
}

async function send(p: Probe): Promise<Answer> {
  const headers: Record<string, string> = { 'x-api-key': stack.bootstrapKey, ...p.headers };
  if (p.body !== undefined) headers['content-type'] = 'application/json';
  // tRPC mutations by a key need no CSRF header; sent anyway so session.* reach their handlers.
  if (p.trpc) headers['x-gatehouse-csrf'] = '1';
  if (p.sse) headers['accept'] = 'text/event-stream';
  const abort = new AbortController();
  const res = await fetch(stack.url + p.path, { method: p.method, headers, body: p.body, signal: abort.signal });
  if (p.sse && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A stream answers 200 at once: a refused input is its first event, an error with an httpStatus.
    // An accepted one sends nothing until a log record arrives, so it is read for a bounded while.
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 2_000;
    const firstEvent = () => /event: (?!connected)[^\n]*\ndata: ([^\n]*)|\nid: [^\n]*\ndata: ([^\n]*)/.exec(text);
    while (!firstEvent() && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(r, deadline - Date.now()))]);
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    abort.abort();
    const event = firstEvent();
    const error = event?.[1] ? (JSON.parse(event[1]) as { data?: { httpStatus?: number } }) : undefined;
    const status = error?.data?.httpStatus ?? res.status;
    return { status, problem: status >= 500 ? text.slice(0, 300) : undefined };
  }
  const text = await res.text();
  let json: { error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status >= 500) return { status: res.status, problem: text.slice(0, 300) };
  if (res.status >= 400 && (typeof json?.error?.message !== 'string' || (!p.trpc && typeof json.error.code !== 'string'))) {
    return { status: res.status, problem: `not a JSON error: ${text.slice(0, 200)}` };
  }
  return { status: res.status };
}

async function inParallel<T>(items: T[], width: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await run(items[next++]!);
  }));
}

// ---- the run ---------------------------------------------------------------------------------

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const as = async (method: string, path: string, body: unknown, status: number) => {
    const res = await stack.rest(method, path, { body });
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
    return res.body;
  };
  fixtures['key'] = (await as('POST', '/api-keys', { id: 'fuzz-target', rate_limits: [{ name: 'per-minute', limit: 100, window_seconds: 60 }] }, 201)).id;
  await as('POST', '/event-types', { name: 'fuzz.happened' }, 201);
  fixtures['endpoint'] = (await as('POST', '/webhooks', { url: 'http://127.0.0.1:9/fuzz' }, 201)).id;
  fixtures['event'] = (await as('POST', '/events', { type: 'fuzz.happened', payload: { n: 1 } }, 202)).id;
  fixtures['delivery'] = (await as('GET', `/events/${fixtures['event']}/deliveries`, undefined, 200)).deliveries[0].id;
  fixtures['limitRequest'] = (await as('POST', `/api-keys/fuzz-target/limit-requests`, { limit_name: 'per-minute', requested_limit: 200 }, 201)).id;
  // No recovery fixture: with no worker polling, a recovery's progress query waits out Temporal's
  // timeout (a 500 about the missing worker, not about input). Recovery 1 is a 404 until a probe starts one.
}, 120_000);
afterAll(() => stack?.close());

describe('hostile input at every route and procedure', () => {
  it('never answers 5xx, and what it refuses changes nothing', async () => {
    const watched = await watchDatabase();
    expect(watched).toEqual(expect.arrayContaining(['api_key', 'workspace', 'event', 'webhook_endpoint', 'limit_request', 'audit_log']));
    // The journal sees a change made through the API.
    expect((await stack.rest('PATCH', '/api-keys/fuzz-target', { body: { name: 'watched' } })).status).toBe(200);
    expect(await journalSince(0)).toContain('UPDATE api_key');

    const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef }>);
    expect(procedures.length).toBeGreaterThan(40);
    // Failed sign-ins get the client address throttled: they go last, after everything they could hide.
    const order = (p: string) => (p.startsWith('session.') ? 1 : 0);
    procedures.sort(([a], [b]) => order(a) - order(b));
    const rest = routes.flatMap(restProbes);
    const trpc = procedures.flatMap(([path, proc]) => trpcProbes(path, proc._def));
    const probes = [...rest, ...trpc];
    // Every route and procedure got hostile input.
    expect(new Set(rest.map((p) => p.what.split(' ').slice(0, 2).join(' ')))).toEqual(new Set(routes.map((r) => `${r.method.toUpperCase()} ${r.path}`)));
    expect(new Set(trpc.map((p) => p.what.split(' ')[0]))).toEqual(new Set(procedures.map(([p]) => p)));

    const started = Date.now();
    const failures: string[] = [];
    const note = (p: Probe, problem: string) => failures.push(`${p.what} → ${problem}`);
    let tried = 0;

    // Reads may run side by side: none of them may write, whatever it answers.
    const reads = probes.filter((p) => !p.writes);
    const beforeReads = await journalEnd();
    await inParallel(reads, 4, async (p) => {
      const a = await send(p);
      tried++;
      if (a.problem) note(p, `${a.status} ${a.problem}`);
      else if (p.refused && a.status !== 400) note(p, `${a.status}, not refused with 400`);
    });
    const afterReads = await journalEnd();
    if (afterReads !== beforeReads) failures.push(`reads changed the database: ${await journalSince(beforeReads)}`);

    // Writes one at a time, so each change is the one request's.
    for (const p of probes.filter((p) => p.writes)) {
      const before = await journalEnd();
      const a = await send(p);
      tried++;
      if (a.problem) note(p, `${a.status} ${a.problem}`);
      else if (p.refused && a.status !== 400) note(p, `${a.status}, not refused with 400`);
      if (a.status >= 400 && (await journalEnd()) !== before) note(p, `${a.status} but changed ${await journalSince(before)}`);
    }

    process.stdout.write(`fuzz: ${tried} hostile inputs to ${routes.length} REST routes and ${procedures.length} tRPC procedures in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(failures).toEqual([]);
  }, 600_000);
});
