import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../core/keys/secret.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

describe('POST /workspaces', () => {
  it('an operator creates a workspace and gets its first admin key once', async () => {
    const res = await stack.rest('POST', '/workspaces', { body: { id: 'acme', name: 'Acme Corp', key_prefix: 'acme' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'acme', name: 'Acme Corp', key_prefix: 'acme', active_keys: 1 });
    expect(res.body.admin_key).toMatchObject({ id: 'admin', permissions: ['admin'] });
    const secret: string = res.body.admin_key.api_key;
    expect(secret).toMatch(/^acme_sk_live_[0-9A-Za-z]{28}$/);

    // The admin key works in its own workspace and sees only it.
    const keys = await stack.rest('GET', '/api-keys', { key: secret });
    expect(keys.status).toBe(200);
    expect(keys.body.api_keys.map((k: { id: string }) => k.id)).toEqual(['admin']);
    expect(JSON.stringify(keys.body)).not.toContain(secret);
    // …and is not an operator.
    expect((await stack.rest('GET', '/workspaces', { key: secret })).status).toBe(403);
    expect((await stack.rest('POST', '/api-keys', { key: secret, body: { id: 'x', permissions: ['operator'] } })).status).toBe(403);

    // Stored only as a hash; the audit trail names the operator who did it.
    const em = stack.orm.em.fork();
    const dump = JSON.stringify(await em.execute(`select * from api_key_secret s join api_key k on k.pk = s.api_key_pk where k.workspace_id = 'acme'`));
    expect(dump).not.toContain(secret.slice(13));
    expect(dump).toContain(hashSecret(secret));
    const audit = await stack.rest('GET', '/audit-log', { key: secret });
    expect(audit.body.entries.map((e: { action: string }) => e.action).sort()).toEqual(['key.created', 'workspace.created']);
    for (const e of audit.body.entries) expect(e).toMatchObject({ actor_key_id: 'bootstrap', actor_workspace_id: 'default' });
    expect(JSON.stringify(audit.body)).not.toContain(secret.slice(13));
    const events = await em.execute<{ type: string; payload: unknown }[]>(`select type, payload from event where workspace_id = 'acme' order by type`);
    // workspace.created is raised in the new workspace, so operator-wide endpoints hear of it (no plan is marked default here).
    expect(events).toEqual([
      { type: 'key.created', payload: { key_id: 'admin', environment: 'live', actor_key_id: 'bootstrap' } },
      { type: 'workspace.created', payload: { workspace_id: 'acme', name: 'Acme Corp', plan_id: null, actor_key_id: 'bootstrap' } },
    ]);
  });

  it('defaults the key prefix to gate, and refuses a taken id with 409', async () => {
    const res = await stack.rest('POST', '/workspaces', { body: { id: 'plain-ws', name: 'Plain' } });
    expect(res.status).toBe(201);
    expect(res.body.admin_key.api_key).toMatch(/^gate_sk_live_/);
    const again = await stack.rest('POST', '/workspaces', { body: { id: 'plain-ws', name: 'Again' } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'conflict', field: 'id' });
    expect((await stack.rest('GET', '/workspaces')).body.workspaces.find((w: { id: string }) => w.id === 'plain-ws').name).toBe('Plain');
  });

  it('needs the operator scope: an admin of the default workspace without it gets 403', async () => {
    const admin = await stack.rest('POST', '/api-keys', { body: { id: 'default-admin', permissions: ['admin'] } });
    const res = await stack.rest('POST', '/workspaces', { key: admin.body.api_key, body: { id: 'nope', name: 'Nope' } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe("This API key lacks the 'operator' permission");
  });
});

describe('GET /workspaces', () => {
  it('lists every workspace newest first, paged', async () => {
    for (const id of ['page-a', 'page-b', 'page-c']) await stack.rest('POST', '/workspaces', { body: { id, name: id } });
    const first = await stack.rest('GET', '/workspaces?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.workspaces.map((w: { id: string }) => w.id)).toEqual(['page-c', 'page-b']);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await stack.rest('GET', `/workspaces?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.workspaces.map((w: { id: string }) => w.id)).toEqual(['page-a', 'plain-ws']);
    const all = (await stack.rest('GET', '/workspaces?limit=500')).body.workspaces;
    expect(all.map((w: { id: string }) => w.id)).toContain('default');
    expect(all.find((w: { id: string }) => w.id === 'default').active_keys).toBeGreaterThanOrEqual(1);
  });
});

describe('tRPC workspaces.*', () => {
  it('create, list and current', async () => {
    const caller = await stack.caller();
    const created = await caller.workspaces.create({ id: 'trpc-ws', name: 'Via tRPC' });
    expect(created.workspace).toMatchObject({ id: 'trpc-ws', keyPrefix: 'gate', activeKeys: 1 });
    expect(created.adminKey.secret).toMatch(/^gate_sk_live_/);
    const theirs = await stack.caller(created.adminKey.secret);
    expect((await theirs.workspaces.current()).id).toBe('trpc-ws');
    await expect(theirs.workspaces.list()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await caller.workspaces.list({ limit: 500 })).workspaces.map((w) => w.id)).toContain('trpc-ws');
    await expect(caller.workspaces.create({ id: 'trpc-ws', name: 'again' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
