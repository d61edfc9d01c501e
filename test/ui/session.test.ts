import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Request } from 'express';
import { resolvePrincipal } from '../../server/auth/resolve.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

interface Call {
  status: number;
  body: { result?: { data: unknown }; error?: { message: string; data: { code: string } } };
  setCookie: string | null;
}

/** A tRPC call over HTTP, as the browser makes it (no x-api-key header). */
async function trpc(kind: 'query' | 'mutation', path: string, opts: { cookie?: string; input?: unknown; csrf?: boolean } = {}): Promise<Call> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers['cookie'] = opts.cookie;
  if (opts.csrf !== false) headers['x-gatehouse-csrf'] = '1';
  let res: globalThis.Response;
  if (kind === 'query') {
    res = await fetch(`${stack.url}/trpc/${path}`, { headers });
  } else {
    headers['content-type'] = 'application/json';
    res = await fetch(`${stack.url}/trpc/${path}`, { method: 'POST', headers, body: JSON.stringify(opts.input ?? {}) });
  }
  return { status: res.status, body: (await res.json()) as Call['body'], setCookie: res.headers.get('set-cookie') };
}

async function signIn(key: string) {
  const res = await trpc('mutation', 'session.signIn', { input: { key } });
  const cookie = res.setCookie?.split(';')[0] ?? '';
  return { res, cookie };
}

describe('admin UI sessions', () => {
  it('signing in with an admin key sets an httpOnly, SameSite=Strict, expiring cookie that is not the key', async () => {
    const { res, cookie } = await signIn(stack.bootstrapKey);
    expect(res.status).toBe(200);
    expect(res.body.result?.data).toMatchObject({ workspaceId: 'default', keyId: 'bootstrap', canWrite: true });
    const attrs = res.setCookie!.toLowerCase();
    expect(attrs).toContain('httponly');
    expect(attrs).toContain('samesite=strict');
    expect(attrs).toContain('expires=');
    expect(attrs).not.toContain('secure');
    expect(res.setCookie).not.toContain(stack.bootstrapKey);
    const expires = new Date(/expires=([^;]+)/i.exec(res.setCookie!)![1]!).getTime();
    expect(expires - Date.now()).toBeGreaterThan(11 * 3600_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(12 * 3600_000 + 5_000);

    const me = await trpc('query', 'session.me', { cookie });
    expect(me.body.result?.data).toMatchObject({ keyId: 'bootstrap', canWrite: true });
    const whoami = await trpc('query', 'system.whoami', { cookie });
    expect(whoami.body.result?.data).toMatchObject({ workspaceId: 'default', keyId: 'bootstrap' });
  });

  // The Secure flag behind an https proxy needs GATEHOUSE_TRUST_PROXY: test/security/trust-proxy.test.ts.

  it('stores only a hash of the session token, never the key', async () => {
    const { cookie } = await signIn(stack.bootstrapKey);
    const token = cookie.split('=')[1]!;
    const rows = await stack.orm.em.fork().execute(`select * from ui_session`);
    expect(rows.length).toBeGreaterThan(0);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(stack.bootstrapKey);
  });

  it('without a session, me is null and protected procedures are refused', async () => {
    expect((await trpc('query', 'session.me')).body.result?.data).toBeNull();
    expect((await trpc('query', 'system.whoami')).status).toBe(401);
    expect((await trpc('query', 'session.me', { cookie: 'gh_session=' + 'A'.repeat(43) })).body.result?.data).toBeNull();
  });

  it('refuses a state-changing call carried by the cookie alone (CSRF) but allows it from the UI', async () => {
    const { cookie } = await signIn(stack.bootstrapKey);
    const forged = await trpc('mutation', 'system.selfTest', { cookie, csrf: false });
    expect(forged.status).toBe(401);
    const fromUi = await fetch(`${stack.url}/trpc/system.whoami`, { headers: { cookie } });
    expect(fromUi.status).toBe(200);
    const signInForged = await trpc('mutation', 'session.signIn', { input: { key: stack.bootstrapKey }, csrf: false });
    expect(signInForged.status).toBe(403);
  });

  it('REST ignores the session cookie unless asked to resolve it', async () => {
    const { cookie } = await signIn(stack.bootstrapKey);
    const req = { method: 'GET', headers: { cookie } } as unknown as Request;
    expect(await resolvePrincipal(req, stack.deps)).toBeUndefined();
    expect(await resolvePrincipal(req, stack.deps, { session: true })).toMatchObject({ keyId: 'bootstrap' });
    // REST's mode wants the CSRF header on a read too
    expect(await resolvePrincipal(req, stack.deps, { session: 'rest' })).toBeUndefined();
  });

  it("the playground's REST calls ride the session only with the CSRF header, on every method, as the signed-in key", async () => {
    const ro = await stack.workspace(['read-only']);
    const { cookie } = await signIn(ro.secret);
    const rest = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
      fetch(`${stack.url}${path}`, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });

    // The cookie alone (a link, a form, an <img> on another page): refused, reads included.
    expect((await rest('GET', '/api-keys', { cookie })).status).toBe(401);
    expect((await rest('POST', '/api-keys', { cookie }, { id: 'forged-by-cookie' })).status).toBe(401);
    // From the UI: the session's key, its workspace and its scopes.
    const listed = await rest('GET', '/api-keys', { cookie, 'x-gatehouse-csrf': '1' });
    expect(listed.status).toBe(200);
    const ids = ((await listed.json()) as { api_keys: { id: string }[] }).api_keys.map((k) => k.id);
    expect(ids).toContain(ro.keyId);
    expect(ids).not.toContain('bootstrap');
    const write = await rest('POST', '/api-keys', { cookie, 'x-gatehouse-csrf': '1' }, { id: 'written-by-session' });
    expect(write.status).toBe(403);
    // Recorded as the UI's own calls (the request log's `ui`), never as the API's traffic.
    await stack.deps.usage.flush();
    const recorded = await stack.orm.em
      .fork()
      .execute<{ source: string; counted: boolean }[]>(`select source, counted from usage_record where workspace_id = ? and route = '/api-keys'`, [ro.workspaceId]);
    expect(recorded.length).toBeGreaterThan(0);
    expect(new Set(recorded.map((r) => `${r.source}:${r.counted}`))).toEqual(new Set(['ui:false']));
    // An x-api-key sent beside the cookie is the one that counts.
    const keyed = await rest('GET', '/api-keys?search=bootstrap', { cookie, 'x-gatehouse-csrf': '1', 'x-api-key': stack.bootstrapKey });
    expect(((await keyed.json()) as { api_keys: { id: string }[] }).api_keys.map((k) => k.id)).toEqual(['bootstrap']);
    // Signed out, the cookie opens nothing.
    await trpc('mutation', 'session.signOut', { cookie });
    expect((await rest('GET', '/api-keys', { cookie, 'x-gatehouse-csrf': '1' })).status).toBe(401);
  });

  it('a read-only key signs in and cannot write; a key without read permissions cannot sign in', async () => {
    const ro = await stack.workspace(['read-only']);
    const { res } = await signIn(ro.secret);
    expect(res.body.result?.data).toMatchObject({ workspaceId: ro.workspaceId, canWrite: false });

    const narrow = await stack.workspace(['products:read']);
    const refused = await signIn(narrow.secret);
    expect(refused.res.status).toBe(403);
    expect(refused.res.body.error?.message).toMatch(/read-only or admin/);
    expect(refused.res.setCookie).toBeNull();

    const wrong = await signIn('gate_sk_live_not-a-real-key-at-all');
    expect(wrong.res.status).toBe(401);
    expect(wrong.res.body.error?.message).toMatch(/not valid/);
  });

  it('revoking the key, or retiring the secret it signed in with, ends its sessions', async () => {
    const ws = await stack.workspace(['admin']);
    const first = await signIn(ws.secret);
    expect((await trpc('query', 'session.me', { cookie: first.cookie })).body.result?.data).toMatchObject({ keyId: 'owner' });
    await stack.orm.em.fork().execute(`update api_key_secret set expires_at = now() - interval '1 second' where api_key_pk = (select pk from api_key where workspace_id = ?)`, [ws.workspaceId]);
    expect((await trpc('query', 'session.me', { cookie: first.cookie })).body.result?.data).toBeNull();

    const ws2 = await stack.workspace(['admin']);
    const second = await signIn(ws2.secret);
    await stack.orm.em.fork().execute(`update api_key set revoked_at = now() where workspace_id = ?`, [ws2.workspaceId]);
    expect((await trpc('query', 'session.me', { cookie: second.cookie })).body.result?.data).toBeNull();
    expect((await trpc('query', 'system.whoami', { cookie: second.cookie })).status).toBe(401);
  });

  it('signing out ends the session and clears the cookie', async () => {
    const { cookie } = await signIn(stack.bootstrapKey);
    const out = await trpc('mutation', 'session.signOut', { cookie });
    expect(out.status).toBe(200);
    expect(out.setCookie).toMatch(/gh_session=;/);
    expect((await trpc('query', 'session.me', { cookie })).body.result?.data).toBeNull();
  });
});
