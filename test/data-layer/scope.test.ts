import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeCursor } from '../../core/cursor.js';
import { HttpError, notFound } from '../../core/errors.js';
import { page } from '../../core/page.js';
import { workspaceScope } from '../../core/scope.js';
import { ApiKey, entities, Workspace } from '../../db/entities/index.js';
import { json, typedDb, type TenantTable } from '../../db/kysely.js';
import { createOrm, migrate, type Orm } from '../../db/orm.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/postgres.js';

let url: string;
let orm: Orm;
beforeAll(async () => {
  url = withDatabase(inject('databaseUrl'), `gh_test_${randomBytes(5).toString('hex')}`);
  await ensureDatabase(url);
  orm = await createOrm(url);
  await migrate(orm);
  const db = typedDb(orm.em.fork());
  await db.insertInto('workspace').values([
    { id: 'ws-a', name: 'A', key_prefix: 'aaa', created_at: new Date() },
    { id: 'ws-b', name: 'B', key_prefix: 'bbb', created_at: new Date() },
  ]).execute();
  for (const [ws, id] of [['ws-a', 'same-id'], ['ws-b', 'same-id'], ['ws-a', 'a-only'], ['ws-b', 'b-only']] as const) {
    await workspaceScope(orm.em.fork(), ws).insertInto('api_key', key(`${ws}-${id}`, id)).execute();
  }
});
afterAll(async () => {
  await orm?.close();
  if (url) await dropDatabase(url);
});

function key(pk: string, id: string) {
  return {
    pk,
    id,
    client_id: `ci_${pk}`,
    permissions: json(['read']),
    rate_limits: json([]),
    ip_allowlist: json([]),
    metadata: json({}),
    start: 'gate_sk_live_Ab3x***',
    created_at: new Date(),
    updated_at: new Date(),
  };
}

const scope = (ws: string) => workspaceScope(orm.em.fork(), ws);
const keysOf = async (ws: string) => (await typedDb(orm.em.fork()).selectFrom('api_key').select(['id', 'name']).where('workspace_id', '=', ws).orderBy('id').execute());

describe('workspaceScope: every query is within the workspace', () => {
  it('selectFrom sees only its workspace, even for an id both workspaces use', async () => {
    const rows = await scope('ws-a').selectFrom('api_key').select(['workspace_id', 'id']).orderBy('id').execute();
    expect(rows).toEqual([
      { workspace_id: 'ws-a', id: 'a-only' },
      { workspace_id: 'ws-a', id: 'same-id' },
    ]);
    expect(await scope('ws-a').selectFrom('api_key').select('id').where('id', '=', 'b-only').executeTakeFirst()).toBeUndefined();
  });

  it("updateTable and deleteFrom cannot reach another workspace's rows", async () => {
    const updated = await scope('ws-a').updateTable('api_key').set({ name: 'hijacked' }).where('id', 'in', ['b-only', 'same-id']).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(1n);
    expect(await keysOf('ws-b')).toEqual([
      { id: 'b-only', name: '' },
      { id: 'same-id', name: '' },
    ]);
    const deleted = await scope('ws-a').deleteFrom('api_key').where('id', '=', 'b-only').executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(0n);
    expect(await keysOf('ws-b')).toHaveLength(2);
    await scope('ws-a').updateTable('api_key').set({ name: '' }).where('id', '=', 'same-id').execute();
  });

  it('insertInto writes the scope’s workspace, whatever the values say', async () => {
    const values = { ...key('ws-a-inserted', 'inserted'), workspace_id: 'ws-b' };
    await scope('ws-a').insertInto('api_key', values).execute();
    expect((await keysOf('ws-a')).map((k) => k.id)).toContain('inserted');
    expect((await keysOf('ws-b')).map((k) => k.id)).not.toContain('inserted');
    await scope('ws-a').deleteFrom('api_key').where('id', '=', 'inserted').execute();
  });

  it("through the EntityManager: another workspace's object is the same 404 as a missing one", async () => {
    const missing = (id: string) => () => notFound('API key', id);
    const a = scope('ws-a');
    expect((await a.find(ApiKey)).map((k) => k.id).sort()).toEqual(['a-only', 'same-id']);
    expect((await a.findOneOrFail(ApiKey, { id: 'same-id' }, missing('same-id'))).pk).toBe('ws-a-same-id');
    const foreign = await a.findOneOrFail(ApiKey, { id: 'b-only' }, missing('b-only')).catch((e: unknown) => e);
    const absent = await a.findOneOrFail(ApiKey, { id: 'nope' }, missing('nope')).catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(HttpError);
    expect(foreign).toMatchObject({ status: 404, code: 'not_found' });
    expect(absent).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('creates entities in its workspace, and refuses entities no workspace owns', async () => {
    const em = orm.em.fork();
    const created = workspaceScope(em, 'ws-b').create(ApiKey, {
      pk: 'ws-b-created',
      id: 'created',
      clientId: 'ci_ws-b-created',
      permissions: ['read'],
      rateLimits: [],
      ipAllowlist: [],
      metadata: {},
      start: 'gate_sk_live_Ab3x***',
    });
    await em.flush();
    expect(created.id).toBe('created');
    expect((await keysOf('ws-b')).map((k) => k.id)).toContain('created');
    expect((await keysOf('ws-a')).map((k) => k.id)).not.toContain('created');
    await expect(scope('ws-a').find(Workspace)).rejects.toThrow(/Workspace is not owned by a workspace/);
  });
});

describe('page: one cursor format, newest first', () => {
  it('walks rows sharing a timestamp without skipping or repeating one, within the workspace', async () => {
    const same = new Date('2026-01-01T00:00:00.123Z');
    const a = scope('ws-a');
    const entry = (id: string, createdAt: Date) => ({ id, action: 'key.updated', target_type: 'api_key', target_id: 'x', changes: json({}), created_at: createdAt });
    for (const id of ['aud_1', 'aud_2', 'aud_3', 'aud_4', 'aud_5']) await a.insertInto('audit_log', entry(id, same)).execute();
    await a.insertInto('audit_log', entry('aud_0', new Date('2026-01-02T00:00:00Z'))).execute();
    await scope('ws-b').insertInto('audit_log', entry('aud_b', same)).execute();

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const { items, nextCursor } = await page(a.selectFrom('audit_log').select(['id', 'workspace_id']), { time: 'created_at', id: 'id' }, { cursor, limit: 2 });
      expect(items.every((r) => Object.keys(r).join() === 'id,workspace_id')).toBe(true);
      seen.push(...items.map((r) => r.id));
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    expect(seen).toEqual(['aud_0', 'aud_5', 'aud_4', 'aud_3', 'aud_2', 'aud_1']);
    // The format clients hold: base64url of [timestamp to the microsecond, id].
    const first = await page(a.selectFrom('audit_log').selectAll(), { time: 'created_at', id: 'id' }, { limit: 2 });
    expect(decodeCursor(first.nextCursor!)).toEqual({ timestamp: '2026-01-01T00:00:00.123000Z', id: 'aud_5' });
    expect(JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString())).toEqual(['2026-01-01T00:00:00.123000Z', 'aud_5']);
  });

  it('a cursor it did not make is a 400 naming the field', async () => {
    const err = await page(scope('ws-a').selectFrom('audit_log').selectAll(), { time: 'created_at', id: 'id' }, { cursor: 'bm9wZQ', limit: 2, cursorField: 'after' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'invalid_input', field: 'after' });
  });
});

/**
 * Every module of the application (core/, server/, activities/, temporal/, packages/) reaches tenant
 * tables only through workspaceScope(): no raw SQL, no Kysely `selectFrom`/`updateTable`/
 * `deleteFrom`/`insertInto` of a tenant table on any other receiver, no EntityManager call on a
 * tenant entity. The files listed here keep raw SQL, each for its reason (docs/architecture.md
 * says the same); a listed file that no longer holds any fails the check too, so the list stays true.
 */
const RAW_SQL: Record<string, string> = {
  'core/keys/key-record.ts': "the verify cache's key-by-hash load, run on the verifier's own pg pool (no EntityManager fork per request)",
  'core/keys/verifier.ts': 'runs key-record.ts\'s statement on its own pool: the verification hot path (bench/verify)',
  'core/keys/credits.ts': 'the atomic credit charge per verification on the verifier pool (bench/verify)',
  'core/keys/rate-limit.ts': 'the sliding-window upsert per verification batch into an UNLOGGED table on the verifier pool (bench/verify)',
  'core/keys/last-used.ts': "the 5 s flush of touched keys' last use: one update from unnest() of two arrays on the verifier pool",
  'core/keys/key-listener.ts': 'LISTEN, which no builder expresses',
  'core/plans/limits-cache.ts': "a workspace's plan and overrides loaded by the verifier on its own pg pool, once per workspace per cache life (bench/verify)",
  'core/plans/quota.ts': "the monthly quota and credit grant charge per verification batch: a locked read and conditional update of the month's row in one statement on the verifier pool (bench/verify)",
  'core/usage/recorder.ts': 'COPY of raw usage rows (no builder has COPY) and the batch rollup upserts from unnest()ed arrays (bench/usage)',
  'core/usage/partitions.ts': "usage_record's day partitions: CREATE/DROP TABLE … PARTITION OF, the catalog read of the partitions and the move of DEFAULT's rows (MikroORM has no partition DDL)",
};
const APP_DIRS = ['core', 'server', 'activities', 'temporal', 'packages/client/src', 'packages/express/src'];

function appSources(root: string, dir: string): string[] {
  return readdirSync(resolve(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? appSources(root, `${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
  );
}
/** Every table with a workspace_id column: the compiler checks this list is complete (Record<TenantTable, …>). */
const TENANT_TABLES: Record<TenantTable, true> = {
  api_key: true,
  audit_log: true,
  event: true,
  event_type: true,
  limit_request: true,
  portal_link: true,
  usage_record: true,
  usage_minute: true,
  usage_hour: true,
  usage_day: true,
  usage_day_total: true,
  usage_month: true,
  webhook_endpoint: true,
  webhook_delivery: true,
  workspace_quota: true,
  workspace_rate_counter: true,
};
const TENANT_ENTITIES = new Set(entities.map((e) => e.meta).filter((m) => m.properties['workspace' as never] || m.properties['workspaceId' as never]).map((m) => m.className));
/** Reviewed exceptions: file, then the receiver and table, with the reason. */
const ALLOWED: Record<string, { [call: string]: string }> = {
  // The monthly rollup workflow's activities: worker jobs over every workspace at once, with no caller's workspace.
  'core/usage/limits.ts': {
    "typedDb(em).selectFrom('api_key as k')": "the limit watcher's batch holds keys of every workspace this process verified for: it joins exact (workspace_id, id) pairs",
  },
  'core/usage/monthly.ts': {
    "typedDb(em).selectFrom('usage_day')": "rollupMonth sums every workspace's day rollups of the month, grouped by workspace and key",
    "db.deleteFrom('usage_month')": 'rollupMonth replaces the whole month (every workspace) in one transaction, so a re-run gives the same rows',
    "db.insertInto('usage_month')": "rollupMonth writes many workspaces' totals per insert (500 rows a statement), each row naming its workspace",
    "typedDb(deps.em()).selectFrom('usage_month')": 'raiseMonthlyReports pages through the workspaces that have a total for the month',
    "db.deleteFrom('usage_record')": 'pruneUsage deletes records past retention, whoever they belong to, in batches',
    "db.selectFrom('usage_record')": "pruneUsage's batch: the ids of records past retention",
  },
  'core/events.ts': {
    "typedDb(deps.em).selectFrom('webhook_endpoint')": "an operator event's copies: the operator workspaces holding an active operator-wide endpoint subscribed to its type (each copy is then stored through that workspace's scope)",
    "db.insertInto('webhook_delivery')": "the outbox insert reads the event just stored (CTE ev) beside the workspace's endpoints, filtered by ep.workspace_id = the event's workspace, whose workspace_id each delivery takes",
  },
  'core/webhooks/dispatch-marks.ts': {
    "typedDb(this.opts.em()).updateTable('event')": "marks dispatched, by id, the events this API process stored and started, of any workspace, many in one UPDATE; it sets dispatched_at only",
  },
  'core/webhooks/attempt.ts': {
    "typedDb(deps.em).selectFrom('webhook_delivery as d')": "workflow history holds the delivery's id only: this read learns the workspace from the row, and every write after it goes through the scope",
  },
  'activities/webhooks.ts': {
    "typedDb(db).selectFrom('event')": "a fan-out is given the event's id only: the workspace comes from the row, and scopes the reads and writes that follow",
    "typedDb(em()).selectFrom('event')": "the outbox sweeper picks up every workspace's undispatched events",
  },
  'core/webhooks/event-types.ts': {
    "typedDb(em).selectFrom('event_type')": 'the types a workspace sees are the built-in ones (workspace_id null) and its own: visibleEventTypes() names the workspace itself',
    "db.insertInto('event_type')": "createEventType inserts one row with the caller's workspace_id set, only when no visible type has the name",
    "typedDb(em).insertInto('event_type')": 'seedEventTypes writes the catalog\'s built-in types, which belong to no workspace',
  },
  'core/keys/reminders.ts': {
    "typedDb(em).selectFrom('api_key')": "the key-reminders Schedule sweeps the live keys of every workspace; each event is raised in its key's own workspace",
  },
  'core/workspaces.ts': { "eb.selectFrom('api_key')": "a correlated count of each listed workspace's own keys (whereRef workspace_id = workspace.id): an operator's read" },
  'core/limits/requests.ts': {
    "typedDb(em).selectFrom('limit_request')": "limitRequestQueue: the provider's queue of every workspace's requests (operators and limits:approve only, by the route's scope)",
  },
  'core/limits/decide.ts': {
    "typedDb(tx).selectFrom('limit_request')": 'the provider decides a request of any workspace: found by id, it names its workspace, whose scope every write after it goes through',
  },
  'core/usage/provider.ts': {
    "db.selectFrom('usage_day_total')": "the provider's charts (operators only): every workspace's day totals over the range in one pass, summed per day and per workspace (grouping sets) for the top tens",
  },
  'core/limits/expire.ts': {
    "typedDb(deps.em()).selectFrom('limit_request')": "the expiry Schedule's sweep of every workspace's pending requests past expires_at; each is expired through its workspace's scope",
  },
  // Customer-portal sign-in links: a link's token names its workspace; an operator revokes a person everywhere.
  'core/portal/links.ts': {
    "db.updateTable('portal_link')": 'redeemLink spends a link found by the hash of its random token (the token names the workspace); revokePerson voids the unopened links of a person the operator names, in every workspace unless one is given',
    "db.selectFrom('portal_link')": "redeemLink tells an expired link from a reused one by its token's hash; revokePerson finds the person's links (operator only) to end the sessions they opened",
  },
  'core/metrics/backlog.ts': {
    "db().selectFrom('event')": "the worker's outbox backlog gauge: a count of every workspace's undispatched events, the operator's figure (no row is read)",
  },
  'core/oauth/tokens.ts': {
    "typedDb(deps.em()).selectFrom('api_key as k')": "a token names its key by client_id (unique across workspaces), signed by Gatehouse; the row must also match the token's sub and workspace_id claims",
  },
  'core/plans/overview.ts': {
    "db.selectFrom('usage_day')": "the operator console's customers table: this month's calls and errors of every workspace (grouped by workspace_id, joined on it), and the health sums of one page's workspaces",
    "db.selectFrom('api_key')": "the operator console's customers table: each workspace's active keys and last use, grouped by workspace_id and joined on it",
    "db.selectFrom('webhook_delivery')": "the operator console's customers table: one page's workspaces' delivery outcomes for their health scores, grouped by workspace_id",
  },
};
const SQL_STATEMENT = /^\s*(select\s[\s\S]+\sfrom\s|insert\s+into\s|update\s+"?\w+"?\s+set\s|delete\s+from\s|with\s+\w+\s+as\s*\()/i;
const KYSELY_ENTRIES = new Set(['selectFrom', 'updateTable', 'deleteFrom', 'insertInto']);
const EM_CALLS = new Set(['find', 'findOne', 'findOneOrFail', 'findAll', 'findAndCount', 'count', 'create', 'insert', 'insertMany', 'upsert', 'upsertMany', 'nativeUpdate', 'nativeDelete', 'getReference', 'qb', 'createQueryBuilder']);

function unscopedAccess(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const isScope = (receiver: ts.Expression) =>
    (ts.isCallExpression(receiver) && receiver.expression.getText(source) === 'workspaceScope') || (ts.isIdentifier(receiver) && /scope$/i.test(receiver.text));
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      const receiver = node.expression.expression;
      const [first] = node.arguments;
      const where = `${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
      if (KYSELY_ENTRIES.has(method) && first && ts.isStringLiteral(first) && first.text.split(' ')[0]! in TENANT_TABLES && !isScope(receiver)) {
        const call = `${receiver.getText(source)}.${method}('${first.text}')`;
        if (!ALLOWED[file]?.[call]) found.push(`${where} ${call}`);
      }
      if (EM_CALLS.has(method) && first && ts.isIdentifier(first) && TENANT_ENTITIES.has(first.text) && !isScope(receiver)) {
        found.push(`${where} ${receiver.getText(source)}.${method}(${first.text})`);
      }
      // Kysely's execute() takes no argument; EntityManager.execute(sql, …) is raw SQL (a workflow's execute is not).
      if (method === 'execute' && node.arguments.length > 0 && !/workflow/i.test(receiver.getText(source))) {
        found.push(`${where} raw SQL: ${node.getText(source).slice(0, 60)}`);
      }
      // node-postgres: pool.query('select …'), client.query(`…`), pool.query(SOME_SQL, …).
      if (method === 'query' && first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first) || ts.isTemplateExpression(first) || (ts.isIdentifier(first) && /sql/i.test(first.text)))) {
        found.push(`${where} raw SQL: ${node.getText(source).slice(0, 60)}`);
      }
    }
    // A statement kept in a string, to be run elsewhere.
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) && !ts.isTaggedTemplateExpression(node.parent) && SQL_STATEMENT.test(node.getText(source).slice(1))) {
      found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} raw SQL statement in a string`);
    }
    if (ts.isTaggedTemplateExpression(node) && /^\s*(select|insert|update|delete|with)\b/i.test(node.template.getText(source).slice(1))) {
      found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} raw SQL statement in a sql template`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('tenant tables are reached only through the workspace scope', () => {
  it('in every module of the application, raw SQL only in the listed files', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const problems: string[] = [];
    const files = APP_DIRS.flatMap((dir) => appSources(root, dir));
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      const found = unscopedAccess(file, await readFile(resolve(root, file), 'utf8'));
      if (!RAW_SQL[file]) problems.push(...found);
      else if (!found.some((f) => f.includes('raw SQL'))) problems.push(`${file} is listed in RAW_SQL but holds none: take it off the list`);
    }
    expect(problems).toEqual([]);
  });

  it('the check finds each way around the scope', () => {
    const text = [
      `const a = await typedDb(em).selectFrom('api_key').selectAll().execute();`,
      `await em.getKysely().updateTable('audit_log').set({ ip: '' }).execute();`,
      `const b = await em.find(ApiKey, { id });`,
      `await em.execute('delete from api_key where pk = ?', [pk]);`,
      `const c = await workspaceScope(em, ws).selectFrom('api_key').selectAll().execute();`,
      `const d = await scope.find(ApiKey, { id });`,
      `const e = await typedDb(em).selectFrom('workspace').selectAll().execute();`,
      `const f = await pool.query(KEY_SQL, [hash]);`,
      `export const KEY_SQL = 'select pk from api_key where hash = $1';`,
      `const g = await client.workflow.execute(selfTestWorkflow, { args: [] });`,
    ].join('\n');
    expect(unscopedAccess('example.ts', text)).toEqual([
      "example.ts:1 typedDb(em).selectFrom('api_key')",
      "example.ts:2 em.getKysely().updateTable('audit_log')",
      'example.ts:3 em.find(ApiKey)',
      "example.ts:4 raw SQL: em.execute('delete from api_key where pk = ?', [pk])",
      'example.ts:4 raw SQL statement in a string',
      'example.ts:8 raw SQL: pool.query(KEY_SQL, [hash])',
      'example.ts:9 raw SQL statement in a string',
    ]);
  });
});
