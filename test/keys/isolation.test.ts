import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { routes } from '../../server/rest/index.js';
import { appRouter } from '../../server/routers/_app.js';
import { startStack, type Caller, type Stack } from '../harness.js';
import { sample, type JsonSchema } from '../schema-sample.js';

/**
 * Workspace A's admin key against workspace B's key `victim`: every route that names a key by id
 * answers as if `victim` did not exist (404 / NOT_FOUND, never 403), and B's data is untouched.
 */
let stack: Stack;
let a: { workspaceId: string; secret: string };
let b: { workspaceId: string; secret: string };
let victimSecret: string;

const snapshotB = async () =>
  JSON.stringify([
    await stack.orm.em.fork().execute(`select * from api_key where workspace_id = ? order by pk`, [b.workspaceId]),
    await stack.orm.em.fork().execute(`select s.* from api_key_secret s join api_key k on k.pk = s.api_key_pk where k.workspace_id = ? order by hash`, [b.workspaceId]),
    await stack.orm.em.fork().execute(`select * from audit_log where workspace_id = ? order by id`, [b.workspaceId]),
    await stack.orm.em.fork().execute(`select id, type, payload from event where workspace_id = ? order by id`, [b.workspaceId]),
  ]);

beforeAll(async () => {
  stack = await startStack({ worker: false });
  a = await stack.workspace(['admin']);
  b = await stack.workspace(['admin']);
  const created = await stack.rest('POST', '/api-keys', { key: b.secret, body: { id: 'victim', name: 'B secret stuff', metadata: { b: 'private' } } });
  expect(created.status).toBe(201);
  victimSecret = created.body.api_key;
});
afterAll(() => stack.close());

describe('REST: a key of one workspace cannot reach another', () => {
  it('list and audit log show only the caller workspace', async () => {
    const list = await stack.rest('GET', '/api-keys?limit=500', { key: a.secret });
    expect(list.status).toBe(200);
    expect(list.body.api_keys.map((k: { id: string }) => k.id)).toEqual(['owner']);
    expect((await stack.rest('GET', '/api-keys?search=victim', { key: a.secret })).body.api_keys).toEqual([]);
    const audit = await stack.rest('GET', '/audit-log?key_id=victim', { key: a.secret });
    expect(audit.body.entries).toEqual([]);
    const all = await stack.rest('GET', '/audit-log?limit=500', { key: a.secret });
    expect(JSON.stringify(all.body)).not.toContain('victim');
  });

  it('every /api-keys/{id} route answers 404 for the other workspace key, never 403', async () => {
    const before = await snapshotB();
    const keyRoutes = routes.filter((r) => r.path.startsWith('/api-keys/{id}'));
    expect(keyRoutes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['get /api-keys/{id}', 'patch /api-keys/{id}', 'post /api-keys/{id}/revoke', 'delete /api-keys/{id}']),
    );
    // A valid body for each route that needs one (built from its schema's examples), so the
    // answer is about the key and not the input: routes other people add are covered too.
    const bodies: Record<string, unknown> = { 'patch /api-keys/{id}': { name: 'pwned', enabled: false } };
    for (const route of keyRoutes) {
      const res = await stack.rest(route.method.toUpperCase(), route.path.replace('{id}', 'victim'), {
        key: a.secret,
        body: route.method === 'get' || route.method === 'delete' ? undefined : (bodies[`${route.method} ${route.path}`] ?? (route.body ? sample(z.toJSONSchema(route.body, { io: 'input', unrepresentable: 'any' }) as JsonSchema) : {})),
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(404);
      expect(res.body.error.code, `${route.method} ${route.path}`).toBe('not_found');
      expect(JSON.stringify(res.body)).not.toContain('B secret stuff');
    }
    expect(await snapshotB()).toBe(before);
    // B's key still works for B.
    expect((await stack.rest('GET', '/api-keys/victim', { key: victimSecret })).status).toBe(200);
  });

  it('the same id in another workspace is a different key (no 409 that would reveal B)', async () => {
    const res = await stack.rest('POST', '/api-keys', { key: a.secret, body: { id: 'victim' } });
    expect(res.status).toBe(201);
    expect((await stack.rest('GET', '/api-keys/victim', { key: b.secret })).body.name).toBe('B secret stuff');
    expect((await stack.rest('DELETE', '/api-keys/victim', { key: a.secret })).status).toBe(200);
    expect((await stack.rest('GET', '/api-keys/victim', { key: b.secret })).status).toBe(200);
  });

  it('a workspace admin is not an operator: cannot list or create workspaces', async () => {
    const list = await stack.rest('GET', '/workspaces', { key: a.secret });
    expect(list.status).toBe(403);
    expect(list.body.error.message).toContain("'operator'");
    const create = await stack.rest('POST', '/workspaces', { key: a.secret, body: { id: 'sneaky', name: 'x' } });
    expect(create.status).toBe(403);
    expect((await stack.rest('GET', '/workspaces')).body.workspaces.map((w: { id: string }) => w.id)).not.toContain('sneaky');
  });
});

describe('tRPC: a key of one workspace cannot reach another', () => {
  /** Extra input some procedures need beyond { id }. */
  const extra: Record<string, Record<string, unknown>> = {
    'keys.update': { patch: { name: 'pwned', enabled: false } },
    'keys.extendGrace': { seconds: 60 },
  };

  it('every keys.* procedure taking an id answers NOT_FOUND for the other workspace key', async () => {
    const before = await snapshotB();
    const caller: Caller = await stack.caller(a.secret);
    const paths = Object.keys(appRouter._def.procedures).filter(
      (p) => p.startsWith('keys.') && !['keys.list', 'keys.create', 'keys.verify', 'keys.auditTrail'].includes(p),
    );
    expect(paths).toEqual(expect.arrayContaining(['keys.get', 'keys.update', 'keys.revoke', 'keys.delete']));
    for (const path of paths) {
      const proc = path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], caller) as (
        input: unknown,
      ) => Promise<unknown>;
      const err = await proc({ id: 'victim', ...extra[path] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, path).toBeInstanceOf(TRPCError);
      expect((err as TRPCError).code, path).toBe('NOT_FOUND');
    }
    expect(await snapshotB()).toBe(before);
  });

  it('list, audit trail and audit log show nothing of the other workspace', async () => {
    const caller = await stack.caller(a.secret);
    expect((await caller.keys.list()).keys.map((k) => k.id)).not.toContain('victim');
    // A made and deleted its own `victim` above: its trail is A's alone.
    const trail = (await caller.keys.auditTrail({ id: 'victim' })).entries;
    expect(trail.map((e) => e.workspaceId)).toEqual(trail.map(() => a.workspaceId));
    expect(JSON.stringify(trail)).not.toContain('B secret stuff');
    expect(JSON.stringify(await caller.audit.list())).not.toContain(b.workspaceId);
    expect((await caller.workspaces.current()).id).toBe(a.workspaceId);
    await expect(caller.workspaces.list()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
