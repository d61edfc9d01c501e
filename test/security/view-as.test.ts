import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { VIEW_AS_HEADER, VIEWED_AS_ACTION } from '../../server/auth/view-as.js';
import { SseStream } from './sse.js';

/**
 * "View as customer" (server/auth/view-as.ts): an operator's tRPC queries carrying
 * x-gatehouse-view-as act in the named workspace with the read-only preset; nobody else reaches
 * another workspace through the header, and nothing is changed through it.
 */
let stack: Stack;
let customer: { workspaceId: string; secret: string; keyId: string };
let other: { workspaceId: string; secret: string; keyId: string };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  customer = await stack.workspace(['admin']);
  other = await stack.workspace(['admin']);
});
afterAll(() => stack.close());

interface TrpcAnswer {
  status: number;
  body: { result?: { data: unknown }; error?: { message: string; data: { code: string; reason?: string; httpStatus: number } } };
}

async function trpc(kind: 'query' | 'mutation', path: string, opts: { key: string; viewAs?: string | string[]; input?: unknown }): Promise<TrpcAnswer> {
  const headers = new Headers({ 'x-api-key': opts.key, 'x-gatehouse-csrf': '1' });
  for (const v of [opts.viewAs ?? []].flat()) headers.append(VIEW_AS_HEADER, v);
  const url = `${stack.url}/trpc/${path}`;
  const res =
    kind === 'query'
      ? await fetch(opts.input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify(opts.input))}`, { headers })
      : await fetch(url, { method: 'POST', headers: { ...Object.fromEntries(headers), 'content-type': 'application/json' }, body: JSON.stringify(opts.input ?? {}) });
  return { status: res.status, body: (await res.json()) as TrpcAnswer['body'] };
}

async function viewedAsEntries(workspaceId: string) {
  return stack.orm.em
    .fork()
    .execute<{ actor_workspace_id: string; actor_key_id: string; target_id: string }[]>(
      `select actor_workspace_id, actor_key_id, target_id from audit_log where workspace_id = ? and action = ?`,
      [workspaceId, VIEWED_AS_ACTION],
    );
}

describe('view as customer', () => {
  it("an operator's query acts in the viewed workspace with the read-only preset", async () => {
    const who = await trpc('query', 'system.whoami', { key: stack.bootstrapKey, viewAs: customer.workspaceId });
    expect(who.status).toBe(200);
    expect(who.body.result?.data).toEqual({
      workspaceId: customer.workspaceId,
      keyId: 'bootstrap',
      scopes: ['audit:read', 'events:read', 'keys:read', 'usage:read', 'webhooks:read'],
    });
    const keys = await trpc('query', 'keys.list', { key: stack.bootstrapKey, viewAs: customer.workspaceId });
    expect(keys.status).toBe(200);
    expect((keys.body.result?.data as { keys: { id: string }[] }).keys.map((k) => k.id)).toEqual([customer.keyId]);
    // Operator-only procedures are out of reach while viewing: the preset holds no `operator`.
    expect((await trpc('query', 'workspaces.list', { key: stack.bootstrapKey, viewAs: customer.workspaceId })).status).toBe(403);
  });

  it('each view is audited in the viewed workspace once per operator key and 10 minutes, the operator as actor', async () => {
    const ws = other.workspaceId;
    for (let i = 0; i < 4; i++) expect((await trpc('query', 'workspaces.current', { key: stack.bootstrapKey, viewAs: ws })).status).toBe(200);
    const entries = await viewedAsEntries(ws);
    expect(entries).toEqual([{ actor_workspace_id: 'default', actor_key_id: 'bootstrap', target_id: ws }]);
    // The customer sees it in its own audit log.
    const audit = await trpc('query', 'audit.list', { key: other.secret, input: { action: VIEWED_AS_ACTION } });
    expect((audit.body.result?.data as { entries: { actorKeyId: string }[] }).entries).toMatchObject([{ actorKeyId: 'bootstrap' }]);
  });

  it('a mutation carrying the header is refused as read_only and changes nothing', async () => {
    const before = await trpc('query', 'keys.list', { key: customer.secret });
    const create = await trpc('mutation', 'keys.create', { key: stack.bootstrapKey, viewAs: customer.workspaceId, input: { id: 'sneaky', permissions: ['read-only'] } });
    expect(create.status).toBe(403);
    expect(create.body.error?.data.reason).toBe('read_only');
    // Nor in the operator's own workspace: the whole request is refused.
    const own = await trpc('query', 'keys.list', { key: stack.bootstrapKey });
    expect((own.body.result?.data as { keys: { id: string }[] }).keys.map((k) => k.id)).not.toContain('sneaky');
    expect((await trpc('query', 'keys.list', { key: customer.secret })).body).toEqual(before.body);
  });

  it("a workspace admin sending the header gets its own workspace or a 403, never another's", async () => {
    const own = await trpc('query', 'system.whoami', { key: customer.secret, viewAs: customer.workspaceId });
    expect(own.status).toBe(200);
    expect(own.body.result?.data).toMatchObject({ workspaceId: customer.workspaceId });
    // Read-only whoever sends it: the admin's own change carrying the header is refused too.
    const change = await trpc('mutation', 'keys.create', { key: customer.secret, viewAs: customer.workspaceId, input: { id: 'with-header', permissions: ['read-only'] } });
    expect(change.status).toBe(403);
    expect(change.body.error?.data.reason).toBe('read_only');
    for (const target of [other.workspaceId, 'default', 'no-such-workspace']) {
      const res = await trpc('query', 'keys.list', { key: customer.secret, viewAs: target });
      expect(res.status).toBe(403);
      expect(res.body.result).toBeUndefined();
    }
    for (const ws of [customer.workspaceId, other.workspaceId]) {
      expect((await viewedAsEntries(ws)).filter((e) => e.actor_workspace_id === customer.workspaceId)).toEqual([]);
    }
  });

  it('bad header values are a 400 naming it; an unknown workspace a 404; no audit', async () => {
    const bad = await trpc('query', 'system.whoami', { key: stack.bootstrapKey, viewAs: 'Not A Workspace!' });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toContain(VIEW_AS_HEADER);
    const twice = await trpc('query', 'system.whoami', { key: stack.bootstrapKey, viewAs: [customer.workspaceId, other.workspaceId] });
    expect(twice.status).toBe(400);
    const missing = await trpc('query', 'system.whoami', { key: stack.bootstrapKey, viewAs: 'no-such-workspace' });
    expect(missing.status).toBe(404);
  });

  it('without a key the header changes nothing: still unauthorized', async () => {
    const res = await fetch(`${stack.url}/trpc/system.whoami`, { headers: { [VIEW_AS_HEADER]: customer.workspaceId } });
    expect(res.status).toBe(401);
  });

  it("a live tail names the workspace in its connection params (EventSource sends no headers); the same rules hold", async () => {
    const third = await stack.workspace(['admin']);
    const url = (params: Record<string, string>) => `${stack.url}/trpc/logs.tail?connectionParams=${encodeURIComponent(JSON.stringify(params))}`;
    const tail = await SseStream.open(url({ [VIEW_AS_HEADER]: third.workspaceId }), { 'x-api-key': stack.bootstrapKey });
    try {
      expect(tail.status).toBe(200);
      expect(await viewedAsEntries(third.workspaceId)).toEqual([{ actor_workspace_id: 'default', actor_key_id: 'bootstrap', target_id: third.workspaceId }]);
    } finally {
      tail.close();
    }
    const refused = await SseStream.open(url({ [VIEW_AS_HEADER]: third.workspaceId }), { 'x-api-key': customer.secret });
    try {
      // A stream's refusal is its first event after `connected`: no log line of any workspace.
      let first = await refused.next();
      if (first?.event === 'connected') first = await refused.next();
      expect(first?.event).toBe('serialized-error');
      expect(first?.data).toContain('Only an operator may view another workspace');
    } finally {
      refused.close();
    }
  });
});
