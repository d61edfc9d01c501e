import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { OPERATOR_SCOPES, SCOPES } from '../../core/permissions.js';
import { recoveryWorkflowId } from '../../temporal/workflow-ids.js';
import { routes } from '../../server/rest/index.js';
import type { AnyRoute } from '../../server/rest/route.js';
import { appRouter } from '../../server/routers/_app.js';
import { startStack, type Caller, type Stack } from '../harness.js';
import { inputJsonSchema, sample, type JsonSchema } from '../schema-sample.js';
import { SseStream } from './sse.js';

/**
 * Workspace A's key, holding every scope but the provider's (`operator`, `limits:approve`; so authorisation never hides the answer),
 * against workspace B, which holds one object of every kind a route or procedure names by id.
 * Every REST route with a path parameter and every tRPC procedure with an id in its input is
 * walked from the route table and the router: each answers exactly as for an id that exists
 * nowhere (404 `not_found` / NOT_FOUND, the same message), B's rows stay as they were, and no
 * answer carries anything of B's. A route or procedure whose id this file cannot fill fails the
 * test until it is mapped below (or listed, with its reason, as not naming a tenant object).
 */

/** The kinds of B's objects an id can name. */
type Kind = 'key' | 'endpoint' | 'event' | 'delivery' | 'recovery' | 'limitRequest' | 'workspace' | 'plan';

/** REST: the path segment before a parameter says what it names (`/webhooks/{id}`: an endpoint). */
const REST_PARAM_KINDS: Record<string, Kind> = {
  'api-keys/{id}': 'key',
  'keys/{id}': 'key', // /usage/keys/{id}
  'limit-requests/{id}': 'limitRequest',
  'workspaces/{id}': 'workspace', // operators only: refused before any read
  'plans/{id}': 'plan', // operators only: B's plan, refused before any read
  'webhooks/{id}': 'endpoint',
  'recover/{recovery_id}': 'recovery',
  'events/{id}': 'event',
  'deliveries/{id}': 'delivery',
  'signing-keys/{kid}': 'plan', // operators only: the provider's OAuth signing keys, refused before any read
};

/** tRPC: `procedure.field`, else `router.field`, else the field name alone says what an id names. */
const TRPC_FIELD_KINDS: Record<string, Kind> = {
  'keys.id': 'key',
  'webhooks.id': 'endpoint',
  'events.id': 'event',
  'deliveries.id': 'delivery',
  'usage.key.id': 'key',
  'workspaces.id': 'workspace',
  'plans.id': 'plan',
  'limits.approve.id': 'limitRequest',
  'limits.decline.id': 'limitRequest',
  keyId: 'key',
  key_id: 'key',
  ids: 'key', // usage.keys: key ids
  recoveryId: 'recovery',
  endpointId: 'endpoint',
  eventId: 'event',
  deliveryId: 'delivery',
};

/** Query-string filters of list routes, by name. */
const REST_FILTER_KINDS: Record<string, Kind> = { key_id: 'key', workspace_id: 'workspace' };

/**
 * Procedures with an id-like field that do not look an object up by it, each with why. They are
 * not walked as "names B's object"; what they do with B's id is checked where the reason says.
 */
const NOT_ABOUT_A_TENANT_OBJECT: Record<string, string> = {
  'keys.create': "the id is the new key's own; the same id in another workspace is another key (checked below and in test/keys/isolation.test.ts)",
  'workspaces.create': 'operator only: workspaces are not tenant objects (test/security/operator-escalation.test.ts)',
  'plans.create': "operator only: the id is the new plan's own (test/security/operator-escalation.test.ts)",
  'portal.createSession': 'operator only: mints a sign-in link into the workspace it names (test/portal/sign-in-links.test.ts, test/security/operator-escalation.test.ts)',
  'portal.revokeSessions': "operator only: the user id is the provider's person, in any workspace (test/portal/sign-in-links.test.ts)",
  'logs.tail': "a server-sent-events stream: walked over HTTP below ('logs.tail streams only the caller's workspace')",
  'limits.queue': "the provider's queue (limits:approve): its workspaceId filters every workspace's requests; A is refused before any read (walked with the lists, and in test/security/limit-requests.test.ts)",
};

/** Bodies the schema's sample would not make valid enough to reach the lookup (a 400 would hide the answer). */
const REST_BODIES: Record<string, unknown> = {
  'patch /api-keys/{id}': { name: 'pwned', enabled: false },
  'patch /webhooks/{id}': { description: 'mine now', status: 'paused' },
  'post /api-keys/{id}/limit-requests': { limit_name: 'pwned', requested_limit: 1, window_seconds: 60 },
};
const TRPC_EXTRA: Record<string, Record<string, unknown>> = {
  'keys.update': { patch: { name: 'pwned', enabled: false } },
  'webhooks.update': { patch: { description: 'mine now', status: 'paused' } },
  'limits.request': { kind: 'key_limit', limitName: 'pwned', requestedLimit: 1, windowSeconds: 60 },
};

/** Queries that take one id but list what is filed under it, so an unknown id is an empty list, not NOT_FOUND. */
const LISTS_BY_ID: Record<string, string> = {
  'keys.auditTrail': "a key id's audit trail, deleted keys' included: walked with the lists, B's id answering as a missing one",
};

const ID_LIKE = /^(id|ids)$|Id$|_id$|Ids$|_ids$/;
/** The refusal of a procedure of the provider's plane to a key without its scopes, before any read. */
const providersOnly = (err: unknown) => err instanceof TRPCError && err.code === 'FORBIDDEN' && /^This API key lacks the '(operator|limits:approve)' permission$/.test(err.message);
const MARK = 'bprivate';

let stack: Stack;
let a: { workspaceId: string; secret: string };
let b: { workspaceId: string; secret: string };
/** B's object of each kind, and an id of the same shape that exists nowhere. */
const bIds = {} as Record<Kind, string | number>;
const missing = (kind: Kind): string | number => {
  const v = bIds[kind];
  return typeof v === 'number' ? v + 1000 : v.slice(0, -4) + (v.endsWith('0000') ? '1111' : '0000');
};
/** Strings that must never reach A: B's workspace, secrets, and every name/description/payload B wrote (all carry MARK). */
const bSecrets: string[] = [];

/** Every row of B's, in every table holding tenant data: by `workspace_id`, or through a foreign key to such a table. */
async function snapshotB(): Promise<Record<string, unknown[]>> {
  // B's own calls (the controls) and their dispatch marks are written in batches: wait for them, so only A's calls are compared.
  await settle();
  const em = stack.orm.em.fork();
  const tables = await em.execute<{ table_name: string; has_ws: boolean }[]>(
    `select c.relname as table_name, exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped) as has_ws
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p') order by c.relname`,
  );
  const fks = await em.execute<{ child: string; parent: string; child_cols: string[]; parent_cols: string[] }[]>(
    `select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
            array(select a.attname from unnest(c.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as child_cols,
            array(select a.attname from unnest(c.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)::text[] as parent_cols
       from pg_constraint c where c.contype = 'f'`,
  );
  const tenant = new Set(tables.filter((t) => t.has_ws).map((t) => t.table_name));
  const out: Record<string, unknown[]> = {};
  const unclassified: string[] = [];
  for (const { table_name: t, has_ws } of tables) {
    if (t === 'workspace') out[t] = await em.execute(`select * from workspace where id = ?`, [b.workspaceId]);
    else if (has_ws) out[t] = await em.execute(`select * from "${t}" where workspace_id = ? order by "${t}"::text`, [b.workspaceId]);
    else {
      const fk = fks.find((f) => f.child === t && tenant.has(f.parent));
      if (fk) {
        const on = fk.child_cols.map((c, i) => `c."${c}" = p."${fk.parent_cols[i]}"`).join(' and ');
        out[t] = await em.execute(`select c.* from "${t}" c join "${fk.parent}" p on ${on} where p.workspace_id = ? order by c::text`, [b.workspaceId]);
        // The provider's own tables: plans, the per-plan monthly totals and the OAuth signing keys hold no customer's rows.
      } else if (!['mikro_orm_migrations', 'gatehouse_install_key', 'plan', 'usage_month_plan', 'branding', 'provider_api', 'signing_key'].includes(t)) unclassified.push(t);
    }
  }
  // A new table is either tenant data (a workspace_id, or a foreign key to a table with one) or listed above as not.
  expect(unclassified, 'tables neither holding tenant data nor listed as shared').toEqual([]);
  return out;
}

async function settle(): Promise<void> {
  await stack.deps.usage.flush();
  await stack.deps.verifier.touches.flush();
  // B's publishes are marked dispatched up to half a second later (core/webhooks/dispatch-marks.ts).
  await stack.deps.dispatched.flush();
}

/** `text` with each of B's ids in `kinds` replaced by its missing twin: what a missing id's answer says. */
function asIfMissing(text: string, kinds: readonly Kind[]): string {
  for (const k of kinds) {
    const v = bIds[k];
    text = typeof v === 'number' ? text.replace(new RegExp(`(?<![\\w.])${v}(?![\\w.])`, 'g'), String(missing(k))) : text.replaceAll(v, String(missing(k)));
  }
  return text;
}

function expectNothingOfB(text: string, what: string, also: readonly string[] = []): void {
  for (const s of [...bSecrets, ...also]) expect(text, `${what} shows B's ${s.slice(0, 12)}…`).not.toContain(s);
}

const pathKey = (r: AnyRoute) => `${r.method} ${r.path}`;
const restParams = (r: AnyRoute) => [...r.path.matchAll(/([^/]+)\/\{(\w+)\}/g)].map((m) => ({ name: m[2]!, key: `${m[1]}/{${m[2]}}` }));

/** The top-level fields of a zod schema's input side, with whether each is required. */
function fieldsOf(schema: z.ZodType | undefined): { name: string; required: boolean; array: boolean; json: JsonSchema }[] {
  if (!schema) return [];
  const js = inputJsonSchema(schema);
  const obj = js.properties ? js : (js.anyOf ?? []).find((x) => x.properties);
  if (!obj?.properties) return [];
  return Object.entries(obj.properties).map(([name, json]) => ({
    name,
    required: (obj.required ?? []).includes(name),
    array: json.type === 'array' || !!json.anyOf?.some((x) => x.type === 'array'),
    json,
  }));
}

interface Procedure {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  input: z.ZodType | undefined;
}
const procedures: Procedure[] = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: Procedure['type']; inputs: z.ZodType[] } }>).map(
  ([path, p]) => ({ path, type: p._def.type, input: p._def.inputs[0] }),
);
const fieldKind = (proc: string, field: string): Kind | undefined =>
  TRPC_FIELD_KINDS[`${proc}.${field}`] ?? TRPC_FIELD_KINDS[`${proc.split('.')[0]}.${field}`] ?? TRPC_FIELD_KINDS[field];
const idFields = (p: Procedure) => fieldsOf(p.input).filter((f) => ID_LIKE.test(f.name));
/** Procedures that look one object up: a required, single id. */
const namesAnObject = (p: Procedure) => idFields(p).some((f) => f.required && !f.array) && !(p.path in NOT_ABOUT_A_TENANT_OBJECT) && !(p.path in LISTS_BY_ID);

beforeAll(async () => {
  // No worker: nothing changes B's rows behind the test's back (deliveries stay pending, the rotation stays in grace).
  stack = await startStack({ worker: false });
  a = await stack.workspace(SCOPES.filter((s) => !OPERATOR_SCOPES.has(s)));
  b = await stack.workspace(SCOPES.filter((s) => !OPERATOR_SCOPES.has(s)));
  const asB = async (method: string, path: string, body?: unknown, status = 201) => {
    const res = await stack.rest(method, path, { key: b.secret, body });
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
    return res.body;
  };
  // Mid-rotation, so the rotation routes have something to find: both its secrets work.
  const victim = await asB('POST', '/api-keys', { id: 'b-victim', name: `${MARK} key`, metadata: { note: `${MARK} metadata` } });
  const rotated = await asB('POST', '/api-keys/b-victim/rotate', { grace_period_seconds: 86_400 });
  await asB('POST', '/api-keys', { id: 'b-other', name: `${MARK} other key` });
  await asB('POST', '/event-types', { name: `${MARK}.thing`, description: `${MARK} type`, schema: { type: 'object', properties: { note: { type: 'string' } } } });
  const endpoint = await asB('POST', '/webhooks', { url: `https://93.184.215.14/${MARK}`, description: `${MARK} endpoint` });
  const event = await asB('POST', '/events', { type: `${MARK}.thing`, payload: { note: `${MARK} payload` } }, 202);
  const deliveries = (await asB('GET', `/events/${event.id}/deliveries`, undefined, 200)).deliveries;
  expect(deliveries).toHaveLength(1);
  const recovery = await asB('POST', `/webhooks/${endpoint.id}/recover`, { since: '2020-01-01T00:00:00Z' }, 202);
  // Ended, so reading it answers from Temporal at once (a running one would wait for a worker).
  await stack.temporal.client.workflow.getHandle(recoveryWorkflowId(endpoint.id, recovery.id)).terminate('test');
  const request = await asB('POST', '/api-keys/b-victim/limit-requests', { limit_name: MARK, requested_limit: 100, window_seconds: 60, reason: `${MARK} reason` });
  await asB('POST', '/v1/usage', { records: [{ key_id: 'b-victim', route: `/${MARK}`, method: 'GET', status: 200, latency_ms: 5 }] }, 202);
  await asB('POST', '/v1/keys/verify', { key: victim.api_key }, 200);
  // B's plan: the plan routes are the provider's, and refuse A before reading anything.
  expect((await stack.rest('POST', '/plans', { body: { id: 'b-plan', name: `${MARK} plan` } })).status).toBe(201);
  expect((await stack.rest('PATCH', `/workspaces/${b.workspaceId}`, { body: { plan: 'b-plan' } })).status).toBe(200);
  Object.assign(bIds, {
    key: 'b-victim',
    endpoint: endpoint.id,
    event: event.id,
    delivery: deliveries[0].id,
    recovery: recovery.id,
    limitRequest: request.id,
    workspace: b.workspaceId,
    plan: 'b-plan',
  } satisfies Record<Kind, string | number>);
  bSecrets.push(MARK, b.workspaceId, b.secret, victim.api_key, rotated.api_key, endpoint.secret);
  await settle();
});
afterAll(() => stack.close());

describe('REST: every route naming an object by id answers 404 for B’s objects, as for ids that exist nowhere', () => {
  const withParams = routes.filter((r) => restParams(r).length > 0);

  it('knows what every path parameter names', () => {
    const unmapped = withParams.flatMap((r) => restParams(r).filter((p) => !REST_PARAM_KINDS[p.key]).map((p) => `${pathKey(r)}: ${p.key}`));
    expect(unmapped, 'map each in REST_PARAM_KINDS').toEqual([]);
    expect(withParams.length).toBeGreaterThanOrEqual(24);
  });

  it('walks them all as A: 404 not_found, the same answer as a missing id, and B unchanged', async () => {
    const before = await snapshotB();
    for (const route of withParams) {
      const fill = (pick: (k: Kind) => string | number) =>
        restParams(route).reduce((path, p) => path.replace(`{${p.name}}`, encodeURIComponent(String(pick(REST_PARAM_KINDS[p.key]!)))), route.path);
      const body = route.body ? (REST_BODIES[pathKey(route)] ?? sample(inputJsonSchema(route.body))) : undefined;
      const call = (path: string) => stack.rest(route.method.toUpperCase(), path, { key: a.secret, body });
      const res = await call(fill((k) => bIds[k]));
      const what = `${pathKey(route)} → ${res.status} ${JSON.stringify(res.body)}`;
      // A provider-only route (deciding limit requests) refuses A before reading anything.
      if (OPERATOR_SCOPES.has(route.scope ?? '')) {
        expect(res.status, what).toBe(403);
        expectNothingOfB(JSON.stringify(res.body), what);
        continue;
      }
      expect(res.status, what).toBe(404);
      expect(res.body.error.code, what).toBe('not_found');
      expectNothingOfB(JSON.stringify(res.body), what);
      // Indistinguishable from an id that exists nowhere: the message differs only by the id.
      const none = await call(fill(missing));
      const kinds = restParams(route).map((p) => REST_PARAM_KINDS[p.key]!);
      expect(asIfMissing(JSON.stringify(res.body), kinds), pathKey(route)).toBe(JSON.stringify(none.body));
    }
    expect(await snapshotB()).toEqual(before);
  });

  it('the walk reaches B’s real objects: B itself gets past the lookup on every read', async () => {
    // A provider-only route refuses B as it refuses A (walked above).
    for (const route of withParams.filter((r) => r.method === 'get' && !OPERATOR_SCOPES.has(r.scope ?? ''))) {
      const path = restParams(route).reduce((p, { name, key }) => p.replace(`{${name}}`, String(bIds[REST_PARAM_KINDS[key]!])), route.path);
      const res = await stack.rest('GET', path, { key: b.secret });
      expect(res.status, `${pathKey(route)} as B: ${JSON.stringify(res.body)}`).toBe(200);
    }
  });
});

describe('tRPC: every procedure naming an object by id answers NOT_FOUND for B’s objects', () => {
  const byId = procedures.filter(namesAnObject);

  /** Its input: a sample from the schema, every id field filled with `pick`'s value, and what TRPC_EXTRA adds. */
  function inputFor(p: Procedure, pick: (k: Kind) => string | number): Record<string, unknown> {
    const input: Record<string, unknown> = { ...(sample(inputJsonSchema(p.input!)) as Record<string, unknown>), ...TRPC_EXTRA[p.path] };
    for (const f of idFields(p)) {
      const kind = fieldKind(p.path, f.name)!;
      if (f.required) input[f.name] = f.array ? [pick(kind)] : pick(kind);
    }
    return input;
  }
  const callAs = async (caller: Caller, p: Procedure, input: unknown): Promise<unknown> => {
    const fn = p.path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], caller) as (i: unknown) => Promise<unknown>;
    return fn(input).then(
      (ok) => ({ ok }),
      (err: unknown) => err,
    );
  };

  it('knows what every id field names, or why a procedure is not about a tenant object', () => {
    const unmapped = procedures.flatMap((p) => (p.path in NOT_ABOUT_A_TENANT_OBJECT ? [] : idFields(p).filter((f) => !fieldKind(p.path, f.name)).map((f) => `${p.path}.${f.name}`)));
    expect(unmapped, 'map each in TRPC_FIELD_KINDS, or list the procedure in NOT_ABOUT_A_TENANT_OBJECT with why').toEqual([]);
    // Mutations taking an optional id (a chosen id for something new) must be listed, not guessed.
    const unlisted = procedures.filter((p) => p.type !== 'query' && !namesAnObject(p) && idFields(p).length > 0 && !(p.path in NOT_ABOUT_A_TENANT_OBJECT));
    expect(unlisted.map((p) => p.path)).toEqual([]);
    expect(byId.map((p) => p.path)).toEqual(
      expect.arrayContaining(['webhooks.update', 'webhooks.delete', 'webhooks.rotateSecret', 'webhooks.sendTest', 'webhooks.recover', 'webhooks.recovery', 'events.get', 'events.deliveries']),
    );
  });

  it('walks them all as A: NOT_FOUND, the same message as a missing id, and B unchanged', async () => {
    const before = await snapshotB();
    const caller = await stack.caller(a.secret);
    for (const p of byId) {
      const err = await callAs(caller, p, inputFor(p, (k) => bIds[k]));
      const what = `${p.path} → ${err instanceof TRPCError ? `${err.code} ${err.message}` : JSON.stringify(err)}`;
      expect(err, what).toBeInstanceOf(TRPCError);
      // A provider-only procedure refuses A (and B) before reading anything.
      if (providersOnly(err)) continue;
      expect((err as TRPCError).code, what).toBe('NOT_FOUND');
      expectNothingOfB((err as TRPCError).message, what);
      const none = (await callAs(caller, p, inputFor(p, missing))) as TRPCError;
      const kinds = idFields(p).filter((f) => f.required).map((f) => fieldKind(p.path, f.name)!);
      expect(asIfMissing((err as TRPCError).message, kinds), p.path).toBe(none.message);
    }
    expect(await snapshotB()).toEqual(before);
  });

  it('the walk reaches B’s real objects: B itself gets past the lookup on every query', async () => {
    const caller = await stack.caller(b.secret);
    for (const p of byId.filter((x) => x.type === 'query')) {
      const res = await callAs(caller, p, inputFor(p, (k) => bIds[k]));
      if (providersOnly(res)) continue;
      expect(res, `${p.path} as B`).toHaveProperty('ok');
    }
  });
});

describe('lists show nothing of B, unfiltered or filtered by B’s ids', () => {
  const bObjectIds = () => Object.values(bIds).filter((v): v is string => typeof v === 'string');
  /** Timestamps move between two calls; everything else must match. */
  const normal = (s: string) => s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');

  it('REST: every GET route without a path parameter', async () => {
    const lists = routes.filter((r) => r.method === 'get' && restParams(r).length === 0);
    expect(lists.map(pathKey)).toEqual(expect.arrayContaining(['get /api-keys', 'get /webhooks', 'get /events', 'get /audit-log', 'get /logs', 'get /limit-requests', 'get /event-types']));
    for (const route of lists) {
      // The largest page the route allows, so nothing of B's could hide on a later one.
      const limit = fieldsOf(route.query).find((f) => f.name === 'limit')?.json as { maximum?: number } | undefined;
      const query = limit?.maximum ? `?limit=${limit.maximum}` : '';
      const res = await stack.rest('GET', route.path + query, { key: a.secret });
      // An operator-only route refuses A before reading anything.
      expect(res.status, `${pathKey(route)}: ${JSON.stringify(res.body)}`).toBe(OPERATOR_SCOPES.has(route.scope ?? '') ? 403 : 200);
      expectNothingOfB(JSON.stringify(res.body), pathKey(route), bObjectIds());
      const filters = fieldsOf(route.query).filter((f) => ID_LIKE.test(f.name));
      for (const f of filters) {
        const kind = REST_FILTER_KINDS[f.name];
        expect(kind, `${pathKey(route)}?${f.name}: map it in REST_FILTER_KINDS`).toBeDefined();
        const get = (v: string | number) => stack.rest('GET', `${route.path}?${f.name}=${encodeURIComponent(String(v))}`, { key: a.secret });
        const filtered = await get(bIds[kind!]);
        const none = await get(missing(kind!));
        expect(filtered.status, `${pathKey(route)}?${f.name}`).toBe(none.status);
        expectNothingOfB(JSON.stringify(filtered.body), `${pathKey(route)}?${f.name}`);
        expect(normal(asIfMissing(JSON.stringify(filtered.body), [kind!])), `${pathKey(route)}?${f.name}`).toBe(normal(JSON.stringify(none.body)));
      }
    }
  });

  it('tRPC: every query that names no single object', async () => {
    const caller = await stack.caller(a.secret);
    const lists = procedures.filter((p) => p.type === 'query' && !namesAnObject(p));
    expect(lists.map((p) => p.path)).toEqual(expect.arrayContaining(['keys.list', 'webhooks.list', 'events.list', 'audit.list', 'logs.search', 'limits.requests', 'usage.keys', 'eventTypes.list']));
    const run = async (p: Procedure, input: unknown) => {
      const fn = p.path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], caller) as (i: unknown) => Promise<unknown>;
      return fn(input).then(
        (ok) => JSON.stringify(ok),
        (err: unknown) => (err instanceof TRPCError ? `${err.code} ${err.message}` : String(err)),
      );
    };
    for (const p of lists) {
      const base = p.input ? (sample(inputJsonSchema(p.input)) as Record<string, unknown>) : undefined;
      const all = await run(p, base);
      // An operator-only procedure refuses A before reading anything; every other one answers.
      if (all.startsWith('FORBIDDEN')) expect(all, p.path).toMatch(/^FORBIDDEN This API key lacks the '(operator|limits:approve)' permission$/);
      else expect(all, p.path).not.toMatch(/^[A-Z_]+ /);
      expectNothingOfB(all, p.path, bObjectIds());
      // Refused before reading anything: its filters are refused alike.
      if (all.startsWith('FORBIDDEN')) continue;
      for (const f of idFields(p)) {
        const kind = fieldKind(p.path, f.name)!;
        const value = (v: string | number) => ({ ...base, [f.name]: f.array ? [v] : v });
        const filtered = await run(p, value(bIds[kind]));
        expectNothingOfB(filtered, `${p.path}.${f.name}`);
        expect(normal(asIfMissing(filtered, [kind])), `${p.path}.${f.name}`).toBe(normal(await run(p, value(missing(kind)))));
      }
    }
  });

  it("logs.tail streams only the caller's workspace", async () => {
    const tail = await SseStream.open(`${stack.url}/trpc/logs.tail`, { 'x-api-key': a.secret });
    try {
      expect(tail.status).toBe(200);
      expect((await tail.next())?.event).toBe('connected');
      stack.deps.usage.record({ workspaceId: b.workspaceId, keyId: 'b-victim', source: 'service', method: 'GET', route: `/${MARK}`, status: 200, latencyMs: 1 });
      stack.deps.usage.record({ workspaceId: a.workspaceId, keyId: 'owner', source: 'service', method: 'GET', route: '/a-probe', status: 200, latencyMs: 1 });
      await stack.deps.usage.flush();
      // A's own earlier requests may come first; B's record never does.
      for (;;) {
        const event = await tail.next();
        expect(event?.event).toBe('message');
        expectNothingOfB(event!.data, 'logs.tail', ['b-victim']);
        if (event!.data.includes('/a-probe')) break;
      }
    } finally {
      tail.close();
    }
  });
});

describe('by name or secret rather than by id', () => {
  it("B's secret is no key of A's, B's event type no type of A's, and B's key id is free for A", async () => {
    const before = await snapshotB();
    const victimSecret = bSecrets[3]!;
    const verified = await stack.rest('POST', '/v1/keys/verify', { key: a.secret, body: { key: victimSecret } });
    expect(verified.status).toBe(200);
    expect(verified.body.valid).toBe(false);
    expectNothingOfB(JSON.stringify(verified.body), 'verify');
    const caller = await stack.caller(a.secret);
    expect((await caller.keys.verify({ key: victimSecret })).valid).toBe(false);

    const published = await stack.rest('POST', '/events', { key: a.secret, body: { type: `${MARK}.thing`, payload: {} } });
    expect(published.status).toBe(400);
    expect(published.body.error.code).toBe('unknown_event_type');
    // A registers the same name as its own type: no 409 that would reveal B's.
    expect((await stack.rest('POST', '/event-types', { key: a.secret, body: { name: `${MARK}.thing` } })).status).toBe(201);
    expect((await stack.rest('POST', '/api-keys', { key: a.secret, body: { id: 'b-victim' } })).status).toBe(201);
    expect(JSON.stringify(await caller.keys.create({ id: 'b-other' }))).toContain('b-other');
    expect(await snapshotB()).toEqual(before);
  });
});
