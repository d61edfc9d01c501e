import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../free-port.js';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot, until } from '../e2e/browser.js';

/**
 * The portal embedded in a provider's page (issue #13, item 2) in Debian's Chromium, which blocks
 * third-party cookies: the provider's backend is examples/portal-backend/server.js, the very file
 * docs/portal.md shows, serving its page on 127.0.0.1 and framing Gatehouse from localhost, another site.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BACKEND = `${ROOT}examples/portal-backend/server.js`;

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let backend: ChildProcess;
let hostUrl = '';
let portalOrigin = '';
let trebolKey = '';
/** A site not listed in GATEHOUSE_PORTAL_FRAME_ANCESTORS: frames whatever `?src=` names, and sets and shows cookies. */
let other: Server;
let otherUrl = '';

interface Posted {
  origin: string;
  data: { type: string; height?: number };
}

beforeAll(async () => {
  await buildUi();
  const hostPort = await freePort();
  hostUrl = `http://127.0.0.1:${hostPort}`;
  stack = await startStack({ worker: false, env: { GATEHOUSE_PORTAL_FRAME_ANCESTORS: hostUrl } });
  portalOrigin = `http://localhost:${new URL(stack.url).port}`;
  // The provider's name, colour and key prefix, for the screenshot of the branded, embedded portal.
  const brand = { product_name: 'Descriptra', accent_color: '#7c3aed', key_prefix: 'desc' };
  expect((await stack.rest('PATCH', '/settings/branding', { body: brand })).status).toBe(200);
  const created = await stack.rest('POST', '/workspaces', { body: { id: 'trebol', name: 'Trebol' } });
  expect(created.status).toBe(201);
  trebolKey = created.body.admin_key.api_key;

  backend = spawn(process.execPath, [BACKEND], {
    env: { ...process.env, GATEHOUSE_URL: portalOrigin, GATEHOUSE_OPERATOR_KEY: stack.bootstrapKey, PORT: String(hostPort) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await until(async () => (await fetch(hostUrl).catch(() => undefined))?.status === 200, 'the provider backend to answer', 20_000);

  other = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/frame') res.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe id="f" src="${url.searchParams.get('src')}"></iframe>`);
    else if (url.pathname === '/cookie/set') res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'probe=1; Path=/; Secure; SameSite=None; HttpOnly' }).end('<p>set</p>');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(`cookie=${req.headers.cookie ?? ''}`);
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;

  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // The host page's record of what the portal posts to it.
  await context.addInitScript(() => {
    if (window.top !== window) return;
    const w = window as unknown as { posted: Posted[] };
    w.posted = [];
    addEventListener('message', (e) => w.posted.push({ origin: e.origin, data: e.data }));
  });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
}, 240_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-embed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
});

afterAll(async () => {
  backend?.kill();
  other?.closeAllConnections();
  await new Promise((r) => other?.close(r));
  await browser?.close();
  await stack?.close();
});

const posted = () => page.evaluate(() => (window as unknown as { posted: Posted[] }).posted);
const heights = async () => (await posted()).filter((m) => m.data.type === 'gatehouse:resize').map((m) => m.data.height!);
const portal = (): FrameLocator => page.frameLocator('#portal');

describe('the portal embedded in a provider page, third-party cookies blocked', () => {
  it('this Chromium blocks third-party cookies: an unpartitioned SameSite=None cookie set in a cross-site frame is not sent back', async () => {
    // localhost and 127.0.0.1 are different sites: the frame is third-party to the page.
    const framed = (path: string) => `${otherUrl}/frame?src=${encodeURIComponent(`http://localhost:${new URL(otherUrl).port}${path}`)}`;
    await page.goto(framed('/cookie/set'));
    await page.frameLocator('#f').getByText('set').waitFor();
    await page.goto(framed('/cookie/read'));
    await expect(page.frameLocator('#f').locator('body').textContent()).resolves.toBe('cookie=');
  });

  it("the provider's backend mints a link; the frame opens a session as the person, and the host sizes the frame to the portal's height", async () => {
    await page.goto(hostUrl);
    await portal().getByRole('heading', { name: 'API Manager' }).waitFor();
    await portal().getByText('Ana Ruiz').first().waitFor();
    // The session rides on a partitioned cookie, kept under the host's site.
    const cookie = (await context.cookies(portalOrigin)).find((c) => c.name === 'gh_session');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'None' });
    expect(cookie?.partitionKey).toBe('http://127.0.0.1');

    // Measured again as the dashboard fills in, from "Loading…" to the whole dashboard.
    await until(async () => ((await heights()).at(-1) ?? 0) > 400, "a height message with the dashboard's height");
    expect((await heights())[0]).toBeLessThan(400);
    expect((await posted()).every((m) => m.origin === portalOrigin)).toBe(true);
    // The example host page applies it: the frame is as tall as the portal's last height.
    await until(async () => (await page.locator('#portal').evaluate((f) => (f as HTMLIFrameElement).style.height)) === `${(await heights()).at(-1)}px`, 'the frame to take the height');
    await page.screenshot({ path: `${ROOT}docs/screenshots/portal-embedded.png`, fullPage: true });
  });

  it('inside the frame the person creates a key (its secret shown once) and revokes it; the audit log names the person', async () => {
    const frame = portal();
    const dashboard = (await heights()).at(-1)!;
    await frame.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys', exact: true }).click();
    await frame.getByRole('heading', { name: 'API keys' }).waitFor();
    // A shorter page than the dashboard: the portal reports it, so the frame shrinks as well as grows.
    await until(async () => (await heights()).at(-1)! < dashboard, 'a smaller height for the keys page');
    await frame.getByRole('button', { name: 'Create key' }).click();
    let dialog = frame.getByRole('dialog');
    await dialog.getByLabel('Key id').fill('embedded-key');
    await dialog.getByLabel('Name', { exact: true }).fill('Made in the frame');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const secret = await dialog.getByTestId('secret').inputValue();
    expect(secret).toMatch(/^desc_sk_live_/);
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await frame.getByRole('row', { name: /embedded-key/ }).waitFor();
    expect((await stack.rest('POST', '/v1/keys/verify', { key: trebolKey, body: { key: secret } })).body.valid).toBe(true);

    await frame.getByRole('button', { name: 'Revoke embedded-key' }).click();
    dialog = frame.getByRole('dialog');
    await dialog.getByLabel(/Type the key id/).fill('embedded-key');
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await frame.getByRole('row', { name: /embedded-key/ }).waitFor({ state: 'detached' });
    expect((await stack.rest('POST', '/v1/keys/verify', { key: trebolKey, body: { key: secret } })).body.valid).toBe(false);
    const audit = await stack.rest('GET', '/audit-log?key_id=embedded-key', { key: trebolKey });
    expect(audit.body.entries.map((e: { action: string; actor_key_id: string }) => `${e.action} ${e.actor_key_id}`).sort()).toEqual(['key.created user:u_123', 'key.revoked user:u_123']);
  });

  it('a link already used, opened in the frame, shows its refusal page there (not a refused frame)', async () => {
    const minted = await fetch(`${portalOrigin}/portal/sessions`, {
      method: 'POST',
      headers: { 'x-api-key': stack.bootstrapKey, 'content-type': 'application/json' },
      body: JSON.stringify({ workspace_id: 'trebol', user: { id: 'u_123', email: 'ana@trebol.example', name: 'Ana Ruiz' }, role: 'admin' }),
    });
    const { url } = (await minted.json()) as { url: string };
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(303);
    await page.locator('#portal').evaluate((f, src) => ((f as HTMLIFrameElement).src = src), url);
    await portal().getByRole('heading', { name: 'This sign-in link was already used' }).waitFor();
    // Back to a fresh link, as the provider's page mints one on every visit.
    await page.goto(hostUrl);
    await portal().getByRole('heading', { name: 'API Manager' }).waitFor();
  });

  it('signing out in the frame tells the host page the session ended', async () => {
    await portal().getByRole('button', { name: 'Sign out' }).click();
    await until(async () => (await posted()).some((m) => m.data.type === 'gatehouse:session-ended'), 'a session-ended message');
    await page.getByText('You left the API manager').waitFor();
    expect((await context.cookies(portalOrigin)).find((c) => c.name === 'gh_session')).toBeUndefined();
  });

  it('a site not listed in GATEHOUSE_PORTAL_FRAME_ANCESTORS cannot frame the portal', async () => {
    const refusals: string[] = [];
    page.on('console', (m) => {
      if (/frame-ancestors/.test(m.text())) refusals.push(m.text());
    });
    await page.goto(`${otherUrl}/frame?src=${encodeURIComponent(`${portalOrigin}/`)}`);
    // The console line can come before the frame has swapped in its error page: wait for both.
    await until(async () => refusals.length > 0 && page.frames().some((f) => f.url().startsWith('chrome-error:')), 'Chromium to refuse the frame');
    expect(refusals[0]).toMatch(new RegExp(`^Framing '${portalOrigin}/' violates .*"frame-ancestors `));
    // The frame holds Chromium's error page, not the portal.
    expect(page.frames().map((f) => f.url())).toEqual([expect.stringContaining(otherUrl), 'chrome-error://chromewebdata/']);
  });

  it('docs/portal.md shows examples/portal-backend/server.js as it is', async () => {
    const doc = await readFile(`${ROOT}docs/portal.md`, 'utf8');
    const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(await readFile(BACKEND, 'utf8'));
  });
});
