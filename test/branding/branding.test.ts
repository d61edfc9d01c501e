import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/** The portal's branding (issue #13, item 3) over the real stack: REST, the served document, sign-in links. */
let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };
beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await stack.workspace(['admin']);
});
afterAll(() => stack?.close());

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function putLogo(body: Buffer | string, contentType: string, key = stack.bootstrapKey) {
  const res = await fetch(`${stack.url}/settings/branding/logo`, { method: 'PUT', headers: { 'x-api-key': key, 'content-type': contentType }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (await res.json()) as any };
}

const branding = async () => (await stack.rest('GET', '/settings/branding', { key: null })).body;
const documentTitle = async () => (await (await fetch(`${stack.url}/keys`, { headers: { accept: 'text/html' } })).text()).match(/<title>(.*)<\/title>/)?.[1];

async function portalCookie(): Promise<string> {
  const minted = await stack.rest('POST', '/portal/sessions', { body: { workspace_id: admin.workspaceId, user: { id: 'u_ana', email: 'ana@customer.example', name: 'Ana' }, role: 'admin' } });
  expect(minted.status).toBe(201);
  const entered = await fetch(minted.body.url, { redirect: 'manual' });
  expect(entered.status).toBe(303);
  return entered.headers.get('set-cookie')!.split(';')[0]!;
}

describe('branding', () => {
  it('is Gatehouse’s own while no operator has set any, and public', async () => {
    const res = await stack.rest('GET', '/settings/branding', { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ product_name: 'Gatehouse', key_prefix: null, accent_color: null, logo_url: null, logo_src: null, support_url: null, updated_at: null });
    expect(await documentTitle()).toBe('Gatehouse');
    const ws = await stack.rest('POST', '/workspaces', { body: { id: 'before-branding', name: 'Before' } });
    expect(ws.body.admin_key.api_key).toMatch(/^gate_sk_live_/);
  });

  it('an operator sets it; everyone reads it, the audit log records it', async () => {
    const patch = { product_name: 'Descriptra <API>', key_prefix: 'desc', accent_color: '#7C3AED', support_url: 'mailto:soporte@descriptra.example' };
    const res = await stack.rest('PATCH', '/settings/branding', { body: patch });
    expect(res.status).toBe(200);
    expect(await branding()).toMatchObject({ ...patch, accent_color: '#7c3aed', logo_src: null });
    const audit = await stack.rest('GET', '/audit-log?action=branding.updated');
    expect(audit.body.entries[0]).toMatchObject({ action: 'branding.updated', target_type: 'branding', changes: { product_name: 'Descriptra <API>', key_prefix: 'desc' } });
    // The same over tRPC, signed out.
    const anon = await stack.caller('');
    expect(await anon.branding.get()).toMatchObject({ productName: 'Descriptra <API>', keyPrefix: 'desc' });
  });

  it('the served document’s <title> is the product name, escaped, and is revalidated on every load', async () => {
    expect(await documentTitle()).toBe('Descriptra &#60;API&#62;');
    for (const path of ['/', '/index.html']) {
      const res = await fetch(`${stack.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("img-src 'self' data:;");
      expect(await res.text()).toContain('<title>Descriptra &#60;API&#62;</title>');
    }
  });

  it('new workspaces take the branding’s key prefix; existing ones keep theirs; an explicit one wins', async () => {
    const ws = await stack.rest('POST', '/workspaces', { body: { id: 'after-branding', name: 'After' } });
    expect(ws.status).toBe(201);
    expect(ws.body.admin_key.api_key).toMatch(/^desc_sk_live_/);
    const own = await stack.rest('POST', '/workspaces', { body: { id: 'own-prefix', name: 'Own', key_prefix: 'own' } });
    expect(own.body.admin_key.api_key).toMatch(/^own_sk_live_/);
    expect((await stack.rest('GET', '/workspaces/before-branding')).body.key_prefix).toBe('gate');
  });

  it('the sign-in link’s refusal page shows the product name and support link', async () => {
    const res = await fetch(`${stack.url}/portal/enter?token=forged`);
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain('<title>This sign-in link is not valid · Descriptra &#60;API&#62;</title>');
    expect(html).toContain('<strong>Descriptra &#60;API&#62;</strong>');
    expect(html).toContain('href="mailto:soporte@descriptra.example"');
    expect(html).not.toContain('Gatehouse');
  });

  it('bad input names its field and changes nothing', async () => {
    const before = await branding();
    const cases: [Record<string, unknown>, string][] = [
      [{ product_name: '' }, 'product_name'],
      [{ product_name: 'x'.repeat(81) }, 'product_name'],
      [{ accent_color: 'purple' }, 'accent_color'],
      [{ accent_color: '#12345' }, 'accent_color'],
      [{ logo_url: 'http://cdn.example/logo.png' }, 'logo_url'],
      [{ logo_url: 'javascript:alert(1)' }, 'logo_url'],
      [{ support_url: 'ftp://help.example' }, 'support_url'],
      [{ key_prefix: 'Desc_' }, 'key_prefix'],
      [{ product_name: 'Fine', colour: '#000000' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await stack.rest('PATCH', '/settings/branding', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect((await stack.rest('PATCH', '/settings/branding', { body: {} })).status).toBe(400);
    expect(await branding()).toEqual(before);
  });

  it('only operators change it: 403 for a workspace admin, over REST and tRPC, and for a portal session', async () => {
    const before = await branding();
    expect((await stack.rest('PATCH', '/settings/branding', { key: admin.secret, body: { product_name: 'Hijacked' } })).status).toBe(403);
    expect((await putLogo(PNG, 'image/png', admin.secret)).status).toBe(403);
    expect((await stack.rest('DELETE', '/settings/branding/logo', { key: admin.secret })).status).toBe(403);
    expect((await stack.rest('PATCH', '/settings/branding', { key: null, body: { product_name: 'Hijacked' } })).status).toBe(401);
    const caller = await stack.caller(admin.secret);
    await expect(caller.branding.update({ productName: 'Hijacked' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const cookie = await portalCookie();
    const viaPortal = await fetch(`${stack.url}/settings/branding`, {
      method: 'PATCH',
      headers: { cookie, 'x-gatehouse-csrf': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ product_name: 'Hijacked' }),
    });
    expect(viaPortal.status).toBe(403);
    const viaPortalTrpc = await fetch(`${stack.url}/trpc/branding.update`, {
      method: 'POST',
      headers: { cookie, 'x-gatehouse-csrf': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ productName: 'Hijacked' }),
    });
    expect(viaPortalTrpc.status).toBe(403);
    expect(await branding()).toEqual(before);
  });

  it('an uploaded logo is checked by its bytes and size, then served by Gatehouse with its type and an ETag', async () => {
    const textAsPng = await putLogo(Buffer.concat([Buffer.from('just some text, not an image')]), 'image/png');
    expect(textAsPng).toMatchObject({ status: 400, body: { error: { field: 'logo' } } });
    const svg = await putLogo('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml');
    expect(svg).toMatchObject({ status: 400, body: { error: { field: 'logo' } } });
    const big = await putLogo(Buffer.concat([PNG, Buffer.alloc(256 * 1024)]), 'image/png');
    expect(big).toMatchObject({ status: 413, body: { error: { field: 'logo' } } });
    const jpegAsPng = await putLogo(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), 'image/png');
    expect(jpegAsPng).toMatchObject({ status: 400, body: { error: { field: 'logo' } } });
    expect((await branding()).logo_src).toBeNull();
    expect((await fetch(`${stack.url}/branding/logo`)).status).toBe(404);

    const ok = await putLogo(PNG, 'image/png');
    expect(ok.status).toBe(200);
    expect(ok.body.logo_src).toMatch(/^\/branding\/logo\?v=\d+$/);
    const served = await fetch(`${stack.url}${ok.body.logo_src}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('cache-control')).toContain('max-age');
    expect(Buffer.from(await served.arrayBuffer()).equals(PNG)).toBe(true);
    const etag = served.headers.get('etag')!;
    // node:http, not fetch: fetch turns a conditional request into `Cache-Control: no-cache`, which no server answers with 304.
    const revalidated = await new Promise<number>((resolve, reject) =>
      get(`${stack.url}/branding/logo`, { headers: { 'if-none-match': etag } }, (res) => resolve(res.resume().statusCode!)).on('error', reject),
    );
    expect(revalidated).toBe(304);

    // A logo URL replaces the upload, and the document's CSP lets that one origin's images load.
    const byUrl = await stack.rest('PATCH', '/settings/branding', { body: { logo_url: 'https://cdn.descriptra.example/logo.png' } });
    expect(byUrl.body).toMatchObject({ logo_url: 'https://cdn.descriptra.example/logo.png', logo_src: 'https://cdn.descriptra.example/logo.png' });
    expect((await fetch(`${stack.url}/branding/logo`)).status).toBe(404);
    const doc = await fetch(`${stack.url}/`);
    expect(doc.headers.get('content-security-policy')).toContain("img-src 'self' data: https://cdn.descriptra.example;");

    const removed = await stack.rest('DELETE', '/settings/branding/logo');
    expect(removed.body).toMatchObject({ logo_url: null, logo_src: null });
  });
});
