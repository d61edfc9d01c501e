import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot } from './browser.js';

/**
 * The admin UI in a real browser against the real stack (PostgreSQL, Temporal, worker, API).
 * The steps run in order and share one browser session, as a person clicking through would.
 */
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let createdSecret = '';
let readOnlySecret = '';

beforeAll(async () => {
  await buildUi();
  stack = await startStack();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(secret: string) {
  await page.goto(stack.url + '/');
  await page.getByLabel('API key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'API Manager' }).waitFor();
}

async function nav(name: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

describe('admin UI in Chromium', () => {
  it('signs in with the admin key; the key is kept in no browser storage', async () => {
    await page.goto(stack.url + '/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await screenshot(page, '01-sign-in');
    await page.getByLabel('API key').fill('gate_sk_live_wrongwrongwrongwrongwrong00');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/not valid/);

    await signIn(stack.bootstrapKey);
    await expect(page.getByText('signed in as').textContent()).resolves.toContain('bootstrap');
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    expect(storage).not.toContain(stack.bootstrapKey);
    // httpOnly: scripts cannot read the session cookie at all.
    expect(storage).not.toContain('gh_session');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'gh_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await screenshot(page, '02-dashboard-empty');
  });

  it('creates a key whose secret is shown once, with a copy button, and never again after a reload', async () => {
    await nav('Keys');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Key id').fill('api-key-produccion-2024');
    await dialog.getByLabel('Name', { exact: true }).fill('Production');
    await dialog.getByLabel('Write (product updates)').check();
    await dialog.getByLabel('Extra scopes').fill('products:write');
    await screenshot(page, '03-key-create');
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const secretBox = dialog.getByTestId('secret');
    await secretBox.waitFor();
    createdSecret = await secretBox.inputValue();
    expect(createdSecret).toMatch(/^gate_sk_live_[0-9A-Za-z]{28}$/);
    await expect(dialog.getByRole('alert').textContent()).resolves.toMatch(/shown only this once/);
    await dialog.getByRole('button', { name: 'Copy secret' }).click();
    await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(createdSecret);
    await screenshot(page, '04-key-secret-once');
    const done = dialog.getByRole('button', { name: 'Done' });
    expect(await done.isDisabled()).toBe(true);
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await done.click();

    const row = page.getByRole('row', { name: /api-key-produccion-2024/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('active');
    await expect(row.textContent()).resolves.toContain('write, products:write');
    await page.reload();
    await page.getByRole('row', { name: /api-key-produccion-2024/ }).waitFor();
    expect(await page.content()).not.toContain(createdSecret);
    expect(await page.content()).toContain(createdSecret.slice(0, 17) + '***');
    await screenshot(page, '05-keys');

    // A read-only key for the last step.
    await page.getByRole('button', { name: 'Create key' }).click();
    await dialog.getByLabel('Key id').fill('analytics-readonly');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    readOnlySecret = await dialog.getByTestId('secret').inputValue();
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('row', { name: /analytics-readonly/ }).waitFor();
  });

  it('rotates the key with a grace period, counts it down, and ends it early', async () => {
    await page.getByRole('button', { name: 'Rotate api-key-produccion-2024' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('1 hour').check();
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    const fresh = await dialog.getByTestId('secret').inputValue();
    expect(fresh).toMatch(/^gate_sk_live_/);
    expect(fresh).not.toBe(createdSecret);
    await expect(dialog.textContent()).resolves.toMatch(/old secret keeps working until/);
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();

    await page.getByRole('link', { name: 'Production' }).click();
    const grace = page.getByRole('region', { name: /in its grace period/ });
    await grace.waitFor();
    const first = await grace.locator('time').textContent();
    expect(first).toMatch(/^(59 min|1 h 00 min)/);
    await page.waitForTimeout(1500);
    expect(await grace.locator('time').textContent()).not.toBe(first);
    // Both secrets work during the grace period.
    expect((await stack.rest('GET', '/healthz', { key: createdSecret })).status).toBe(200);
    const caller = await stack.caller(createdSecret);
    await expect(caller.system.whoami()).resolves.toMatchObject({ keyId: 'api-key-produccion-2024' });
    await screenshot(page, '06-key-grace');

    await grace.getByRole('button', { name: 'End grace now' }).click();
    await page.getByText(/Last rotation \(1\) completed/).waitFor();
    await expect((await stack.caller(createdSecret)).system.whoami()).rejects.toThrow();
    await expect((await stack.caller(fresh)).system.whoami()).resolves.toMatchObject({ keyId: 'api-key-produccion-2024' });
    await expect(page.getByRole('table').textContent()).resolves.toMatch(/rotat/);
    await screenshot(page, '07-key-detail');
  });

  it('signs in read-only: sees everything, every write control is disabled with the reason, and the server refuses writes', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await signIn(readOnlySecret);
    await page.getByText('Your key is read-only').waitFor();
    await nav('Keys');
    await page.getByRole('row', { name: /api-key-produccion-2024/ }).waitFor();
    const create = page.getByRole('button', { name: 'Create key' });
    expect(await create.isDisabled()).toBe(true);
    expect(await create.getAttribute('title')).toMatch(/read-only/);
    expect(await page.getByRole('button', { name: 'Rotate api-key-produccion-2024' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Revoke api-key-produccion-2024' }).isDisabled()).toBe(true);
    await screenshot(page, '20-read-only-keys');

    // Past the disabled buttons, straight at the API with the session cookie: refused.
    const status = await page.evaluate(async () => {
      const res = await fetch('/trpc/keys.create', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gatehouse-csrf': '1' },
        body: JSON.stringify({ id: 'sneaky' }),
      });
      return res.status;
    });
    expect(status).toBe(403);
  });
});
