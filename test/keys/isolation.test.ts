import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * Workspace A's admin key against workspace B's key `victim`: lists, searches and the audit log show
 * nothing of it, and its id stays free for A. That every route and procedure naming a key by id
 * answers 404 / NOT_FOUND for it is test/security/isolation.test.ts's walk over all of them.
 */
let stack: Stack;
let a: { workspaceId: string; secret: string };
let b: { workspaceId: string; secret: string };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  a = await stack.workspace(['admin']);
  b = await stack.workspace(['admin']);
  const created = await stack.rest('POST', '/api-keys', { key: b.secret, body: { id: 'victim', name: 'B secret stuff', metadata: { b: 'private' } } });
  expect(created.status).toBe(201);
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
