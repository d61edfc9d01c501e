import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot } from '../e2e/browser.js';

/**
 * The branded portal in Debian's Chromium (issue #13, item 3): the sign-in page and a customer's
 * signed-in pages say "Descriptra" with its logo and colour, under the portal's own CSP. The
 * screenshots in docs/screenshots/ are taken here.
 */
const DOCS_SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

let stack: Stack;
let browser: Browser;
let page: Page;
let customerKey = '';

interface Violations {
  csp: string[];
}

beforeAll(async () => {
  await buildUi();
  stack = await startStack({ worker: false });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  await page.addInitScript(() => {
    const w = window as unknown as Violations;
    w.csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  // A logo drawn by the browser itself: a purple tile with a white "D".
  await page.goto('about:blank');
  const dataUrl = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 96;
    c.height = 96;
    const g = c.getContext('2d')!;
    g.fillStyle = '#7c3aed';
    g.fillRect(0, 0, 96, 96);
    g.fillStyle = '#ffffff';
    g.font = 'bold 64px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText('D', 48, 52);
    return c.toDataURL('image/png');
  });
  const png = Buffer.from(dataUrl.split(',')[1]!, 'base64');

  const patched = await stack.rest('PATCH', '/settings/branding', {
    body: { product_name: 'Descriptra', key_prefix: 'desc', accent_color: '#7c3aed', support_url: 'https://ayuda.descriptra.example' },
  });
  expect(patched.status).toBe(200);
  const uploaded = await fetch(`${stack.url}/settings/branding/logo`, { method: 'PUT', headers: { 'x-api-key': stack.bootstrapKey, 'content-type': 'image/png' }, body: png });
  expect(uploaded.status).toBe(200);
  const created = await stack.rest('POST', '/workspaces', { body: { id: 'trebol', name: 'Trebol' } });
  customerKey = created.body.admin_key.api_key;
}, 240_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-branding-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/**
 * The brand mark's logo has loaded (a blocked or broken image has no natural width). decode() settles
 * once the image has loaded or failed: the heading can show before its logo arrives, and reading
 * `complete` at that moment failed the test on a busy machine.
 */
const logoLoaded = (selector: string) =>
  page.locator(`${selector} img`).evaluate((img: HTMLImageElement) => img.decode().then(() => img.naturalWidth > 0, () => false));

describe('the branded portal in Chromium', () => {
  it('the sign-in page says Descriptra, with its logo, before anyone signs in', async () => {
    expect(customerKey).toMatch(/^desc_sk_live_/);
    await page.goto(stack.url);
    await page.getByRole('heading', { name: 'Descriptra' }).waitFor();
    expect(await page.title()).toBe('Descriptra');
    expect(await logoLoaded('.signin')).toBe(true);
    expect(await page.getByLabel('API key').getAttribute('placeholder')).toBe('desc_sk_live_…');
    expect(await page.getByRole('link', { name: 'Contact Descriptra support' }).getAttribute('href')).toBe('https://ayuda.descriptra.example');
    expect(await page.content()).not.toContain('Gatehouse');
    expect(await page.evaluate(() => (window as unknown as Violations).csp)).toEqual([]);
  });

  it('signed in through a link, the header shows the logo, the name, the accent and the support link', async () => {
    const minted = await stack.rest('POST', '/portal/sessions', { body: { workspace_id: 'trebol', user: { id: 'u_ana', email: 'ana@trebol.example', name: 'Ana Ruiz' }, role: 'admin' } });
    expect(minted.status).toBe(201);
    await page.goto(minted.body.url);
    await page.getByText('Ana Ruiz').waitFor();
    const brand = page.locator('aside .brand');
    expect((await brand.textContent())?.trim()).toBe('Descriptra');
    expect(await logoLoaded('aside .brand')).toBe(true);
    expect(await page.title()).toBe('Descriptra');
    expect(await page.getByRole('link', { name: 'Support' }).getAttribute('href')).toBe('https://ayuda.descriptra.example');
    // The accent reached the page through CSSOM, with white text on it (WCAG contrast).
    const current = page.locator('nav a[aria-current="page"]');
    expect(await current.evaluate((a) => getComputedStyle(a).backgroundColor)).toBe('rgb(124, 58, 237)');
    expect(await current.evaluate((a) => getComputedStyle(a).color)).toBe('rgb(255, 255, 255)');
    await page.screenshot({ path: `${DOCS_SCREENSHOTS}portal-branded-1280.png` });

    await page.setViewportSize({ width: 375, height: 760 });
    const top = page.locator('.top-brand');
    await top.waitFor({ state: 'visible' });
    expect((await top.textContent())?.trim()).toBe('Descriptra');
    expect(await logoLoaded('.top-brand')).toBe(true);
    await page.screenshot({ path: `${DOCS_SCREENSHOTS}portal-branded-375.png` });

    expect(await page.evaluate(() => (window as unknown as Violations).csp)).toEqual([]);
  });
});
