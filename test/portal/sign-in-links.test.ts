import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/** Customer-portal sign-in links (issue #13, item 1), over real PostgreSQL. */
let stack: Stack;
let ws: { workspaceId: string; secret: string; keyId: string };
const ALLOWED_ORIGIN = 'https://app.provider.example';
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { GATEHOUSE_PORTAL_RETURN_ORIGINS: `${ALLOWED_ORIGIN}, http://localhost:5173` } });
  ws = await stack.workspace(['admin']);
});
afterAll(() => stack?.close());

const ana = { id: 'u_ana', email: 'ana@customer.example', name: 'Ana Ruiz' };

async function mint(body: Record<string, unknown>, key?: string) {
  return stack.rest('POST', '/portal/sessions', { body, key });
}

/** Opens a link as a browser would, without following the redirect. */
async function enter(url: string) {
  const res = await fetch(url, { redirect: 'manual' });
  const setCookie = res.headers.get('set-cookie');
  return { status: res.status, location: res.headers.get('location'), cookie: setCookie?.split(';')[0] ?? null, setCookie, text: await res.text() };
}

async function trpc(kind: 'query' | 'mutation', path: string, cookie: string, input?: unknown) {
  const headers: Record<string, string> = { cookie, 'x-gatehouse-csrf': '1' };
  const res =
    kind === 'query'
      ? await fetch(`${stack.url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })
      : await fetch(`${stack.url}/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? {}) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (await res.json()) as any };
}

async function signedIn(role: 'admin' | 'read-only', user = ana) {
  const minted = await mint({ workspace_id: ws.workspaceId, user, role });
  expect(minted.status).toBe(201);
  const entered = await enter(minted.body.url);
  expect(entered.status).toBe(303);
  return entered.cookie!;
}

describe('customer-portal sign-in links', () => {
  it('mint → enter → an admin session acting as the person, recorded as the person in the audit log', async () => {
    const minted = await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin', return_url: `${ALLOWED_ORIGIN}/settings/api` });
    expect(minted.status).toBe(201);
    expect(minted.body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/portal\/enter\?token=[A-Za-z0-9_-]{43}$/);
    const expiresIn = new Date(minted.body.expires_at).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(300_000);
    // Only the hash is stored.
    const token = new URL(minted.body.url).searchParams.get('token')!;
    expect(JSON.stringify(await stack.orm.em.fork().execute(`select * from portal_link`))).not.toContain(token);

    const entered = await enter(minted.body.url);
    expect(entered.status).toBe(303);
    expect(entered.location).toBe('/#/');
    expect(entered.setCookie!.toLowerCase()).toContain('httponly');
    expect(entered.cookie).toMatch(/^gh_session=/);

    const me = await trpc('query', 'session.me', entered.cookie!);
    expect(me.body.result.data).toMatchObject({
      workspaceId: ws.workspaceId,
      keyId: 'user:u_ana',
      canWrite: true,
      person: { id: 'u_ana', email: ana.email, name: ana.name, role: 'admin' },
      returnUrl: `${ALLOWED_ORIGIN}/settings/api`,
    });
    expect(me.body.result.data.scopes).not.toContain('operator');

    const created = await trpc('mutation', 'keys.create', entered.cookie!, { id: 'made-by-ana', name: 'Made by Ana', permissions: ['read-only'] });
    expect(created.status).toBe(200);
    const audit = await stack.rest('GET', `/audit-log?key_id=made-by-ana`, { key: ws.secret });
    expect(audit.status).toBe(200);
    expect(audit.body.entries[0]).toMatchObject({ action: 'key.created', actor_key_id: 'user:u_ana', actor_email: ana.email, actor_workspace_id: ws.workspaceId });
    // A limit request asked from the portal names the person too (requested_by and the audit entry).
    const asked = await trpc('mutation', 'limits.request', entered.cookie!, { kind: 'workspace_quota', requestedLimit: 5_000_000 });
    expect(asked.status).toBe(200);
    expect(asked.body.result.data).toMatchObject({ requestedBy: 'user:u_ana' });
    const askedAudit = await stack.rest('GET', `/audit-log?action=limit_request.created`, { key: ws.secret });
    expect(askedAudit.body.entries[0]).toMatchObject({ actor_key_id: 'user:u_ana', actor_email: ana.email });
    // An operator cannot be minted, and the session sees only its own workspace.
    const keys = await trpc('query', 'keys.list', entered.cookie!, {});
    expect(keys.status).toBe(200);
    expect(JSON.stringify(keys.body)).not.toContain('"bootstrap"');
    expect((await trpc('query', 'plans.list', entered.cookie!)).status).toBe(403);
  });

  it('a read-only session reads but changes nothing (403)', async () => {
    const cookie = await signedIn('read-only', { id: 'u_ro', email: 'ro@customer.example', name: 'Reader' });
    const me = await trpc('query', 'session.me', cookie);
    expect(me.body.result.data).toMatchObject({ canWrite: false, keyId: 'user:u_ro' });
    expect((await trpc('query', 'keys.list', cookie, {})).status).toBe(200);
    expect((await trpc('mutation', 'keys.create', cookie, { id: 'by-reader', name: 'x' })).status).toBe(403);
    expect((await trpc('mutation', 'keys.revoke', cookie, { id: ws.keyId })).status).toBe(403);
    expect((await trpc('mutation', 'webhooks.create', cookie, { url: 'https://example.com/hook', eventTypes: ['key.created'] })).status).toBe(403);
  });

  it('a link opens one session only: reuse is a 401 page saying so, with no cookie', async () => {
    const minted = await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin' });
    expect((await enter(minted.body.url)).status).toBe(303);
    const again = await enter(minted.body.url);
    expect(again.status).toBe(401);
    expect(again.setCookie).toBeNull();
    expect(again.text).toContain('already used');
  });

  it('two browsers opening one link at once: one session between them', async () => {
    const minted = await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin' });
    const results = await Promise.all([enter(minted.body.url), enter(minted.body.url), enter(minted.body.url)]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 401, 401]);
  });

  it('an expired link is a 401 page saying so', async () => {
    const minted = await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin', ttl_seconds: 60 });
    expect(minted.status).toBe(201);
    expect(new Date(minted.body.expires_at).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    await stack.orm.em.fork().execute(`update portal_link set expires_at = now() - interval '1 second' where used_at is null`);
    const res = await enter(minted.body.url);
    expect(res.status).toBe(401);
    expect(res.setCookie).toBeNull();
    expect(res.text).toContain('expired');
  });

  it('the refusal page is styled only by its own <style> element, which its CSP allows by hash', async () => {
    const res = await fetch(`${stack.url}/portal/enter?token=short`);
    const html = await res.text();
    const css = /<style>([^<]*)<\/style>/.exec(html)?.[1];
    expect(css).toContain('font-family');
    const hash = createHash('sha256').update(css!).digest('base64');
    expect(res.headers.get('content-security-policy')).toContain(`style-src 'sha256-${hash}'`);
    expect(html).not.toContain(' style=');
  });

  it('a forged or mangled link is a 401 page saying so', async () => {
    for (const token of ['A'.repeat(43), 'short', '']) {
      const res = await enter(`${stack.url}/portal/enter?token=${token}`);
      expect(res.status).toBe(401);
      expect(res.setCookie).toBeNull();
      expect(res.text).toContain('not valid');
    }
    expect((await enter(`${stack.url}/portal/enter`)).status).toBe(401);
  });

  it('only an operator key mints or revokes (403), and a portal session cannot either', async () => {
    const admin = await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin' }, ws.secret);
    expect(admin.status).toBe(403);
    expect((await stack.rest('DELETE', '/portal/sessions?user_id=u_ana', { key: ws.secret })).status).toBe(403);
    expect((await mint({ workspace_id: ws.workspaceId, user: ana, role: 'admin' }, null as never)).status).toBe(401);
    const cookie = await signedIn('admin');
    expect((await trpc('mutation', 'portal.createSession', cookie, { workspaceId: ws.workspaceId, user: ana, role: 'admin' })).status).toBe(403);
  });

  it('bad input is a 400 naming the field, and mints nothing', async () => {
    const before = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from portal_link`);
    const good = { workspace_id: ws.workspaceId, user: ana, role: 'admin' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, workspace_id: undefined }, 'workspace_id'],
      [{ ...good, workspace_id: 'Not A Workspace' }, 'workspace_id'],
      [{ ...good, user: undefined }, 'user'],
      [{ ...good, user: { ...ana, id: '' } }, 'user.id'],
      [{ ...good, user: { ...ana, email: 'not-an-email' } }, 'user.email'],
      [{ ...good, user: { ...ana, name: undefined } }, 'user.name'],
      [{ ...good, user: { ...ana, extra: 1 } }, 'user.extra'],
      [{ ...good, role: 'operator' }, 'role'],
      [{ ...good, ttl_seconds: 601 }, 'ttl_seconds'],
      [{ ...good, ttl_seconds: 0 }, 'ttl_seconds'],
      [{ ...good, ttl_seconds: 'soon' }, 'ttl_seconds'],
      [{ ...good, return_url: 'not a url' }, 'return_url'],
      [{ ...good, surprise: true }, 'surprise'],
    ];
    for (const [body, field] of cases) {
      const res = await mint(body);
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expect(res.body.error.message).toContain(field);
    }
    const ttl = await mint({ ...good, ttl_seconds: 601 });
    expect(ttl.body.error.message).toMatch(/at most 600/);
    // An unknown workspace is named too.
    expect((await mint({ ...good, workspace_id: 'no-such-ws' })).status).toBe(404);
    const after = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from portal_link`);
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('return_url only to an allowed origin (open redirect)', async () => {
    const good = { workspace_id: ws.workspaceId, user: ana, role: 'admin' };
    for (const url of [
      'https://evil.example/phish',
      'https://app.provider.example.evil.example/',
      'https://app.provider.example@evil.example/',
      'http://app.provider.example/',
      'javascript:alert(1)',
      '//evil.example/',
    ]) {
      const res = await mint({ ...good, return_url: url });
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(res.body.error.field ?? res.body.error.message).toContain('return_url');
    }
    expect((await mint({ ...good, return_url: 'http://localhost:5173/back' })).status).toBe(201);
  });

  it('revoking by user id ends every session of that person (next call 401), and only theirs', async () => {
    const first = await signedIn('admin', { id: 'u_rev', email: 'rev@customer.example', name: 'Rev' });
    const second = await signedIn('read-only', { id: 'u_rev', email: 'rev@customer.example', name: 'Rev' });
    const other = await signedIn('admin', { id: 'u_keep', email: 'keep@customer.example', name: 'Keep' });
    const unopened = await mint({ workspace_id: ws.workspaceId, user: { id: 'u_rev', email: 'rev@customer.example', name: 'Rev' }, role: 'admin' });
    expect((await trpc('query', 'system.whoami', first)).status).toBe(200);

    const res = await stack.rest('DELETE', '/portal/sessions?user_id=u_rev');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revoked: 2 });
    expect((await trpc('query', 'system.whoami', first)).status).toBe(401);
    expect((await trpc('query', 'system.whoami', second)).status).toBe(401);
    expect((await trpc('query', 'session.me', first)).body.result.data).toBeNull();
    expect((await trpc('query', 'system.whoami', other)).status).toBe(200);
    // A link minted before the revocation opens nothing afterwards.
    expect((await enter(unopened.body.url)).status).toBe(401);
    // tRPC, with a workspace filter.
    const caller = await stack.caller();
    expect(await caller.portal.revokeSessions({ userId: 'u_keep', workspaceId: ws.workspaceId })).toEqual({ revoked: 1 });
    expect((await trpc('query', 'system.whoami', other)).status).toBe(401);
    expect((await stack.rest('DELETE', '/portal/sessions')).status).toBe(400);
  });

  it('sign-out ends a portal session', async () => {
    const cookie = await signedIn('admin');
    expect((await trpc('mutation', 'session.signOut', cookie)).status).toBe(200);
    expect((await trpc('query', 'system.whoami', cookie)).status).toBe(401);
  });

  it('the typed client mints links too', async () => {
    const caller = await stack.caller();
    const link = await caller.portal.createSession({ workspaceId: ws.workspaceId, user: ana, role: 'read-only', ttlSeconds: 120 });
    expect(link.url).toContain('/portal/enter?token=');
    expect((await enter(link.url.replace(/^https?:\/\/[^/]+/, stack.url))).status).toBe(303);
  });
});
