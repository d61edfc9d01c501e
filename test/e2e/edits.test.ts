import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot, until, signInAt } from './browser.js';

/**
 * The edits a dashboard must offer, in a real browser against the real stack (issue #18, items 6,
 * 9 and 11): a key's settings changed from its page with the server's refusals beside the fields,
 * the keys list and the request log filtered with the filters in the address (they survive a
 * reload), and the playground calling the REST API as the signed-in session, colouring a 200
 * verification that says `valid: false` as the refusal it is.
 */
let stack: Stack;
let browser: Browser;
let page: Page;
let workerSecret = '';

beforeAll(async () => {
  await buildUi();
  stack = await startStack({ worker: false });
  const caller = await stack.caller();
  await caller.keys.create({ id: 'edit-me', name: 'Billing worker', permissions: ['read-only'], rateLimits: [{ name: 'per-minute', limit: 100, windowSeconds: 60 }] });
  await caller.keys.create({ id: 'staging-crawler', environment: 'test', permissions: ['products:read'] });
  await caller.keys.create({ id: 'retired-2023', permissions: ['read-only'] });
  await caller.keys.revoke({ id: 'retired-2023' });
  workerSecret = (await caller.keys.create({ id: 'verify-me', permissions: ['products:read'] })).secret;
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  page.setDefaultTimeout(15_000);
}, 240_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `edits-failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(secret: string) {
  await signInAt(page, stack.url + '/', secret);
  await page.getByRole('heading', { name: 'API Manager' }).waitFor();
}

const hash = () => page.evaluate(() => location.hash);

describe('edits in Chromium', () => {
  it("edits a key's settings from its page: all problems at once, the server's refusal beside its field, then saved", async () => {
    await signIn(stack.bootstrapKey);
    await page.goto(`${stack.url}/#/keys/edit-me`);
    await page.getByRole('button', { name: 'Edit settings' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/^Name/).fill('Billing worker EU');
    await dialog.getByLabel(/^Requests/).fill('0');
    await dialog.getByLabel(/^Expires/).fill('31/12/2030');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    // Both problems the form can see, marked at once; the focus on the first.
    const requests = dialog.getByLabel(/^Requests/);
    await until(async () => (await requests.getAttribute('aria-invalid')) === 'true', 'the requests field marked');
    expect(await dialog.getByLabel(/^Expires/).getAttribute('aria-invalid')).toBe('true');
    expect(await requests.evaluate((el) => el === document.activeElement)).toBe(true);

    // The server's refusal (a permission that is no preset or scope) lands beside Permissions, in words.
    await requests.fill('250');
    await dialog.getByLabel(/^Expires/).fill('2030-12-31 18:00');
    await dialog.getByLabel(/^Permissions/).fill('read-only NotAScope');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByText(/“NotAScope” is not a permission/).waitFor();
    expect(await dialog.getByLabel(/^Permissions/).getAttribute('aria-invalid')).toBe('true');
    expect(await dialog.textContent()).not.toContain('permissions.1');
    await screenshot(page, 'edits-key-refused');

    await dialog.getByLabel(/^Permissions/).fill('read-only products:read');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: /Billing worker EU/ }).waitFor();
    const key = await (await stack.caller()).keys.get({ id: 'edit-me' });
    expect(key).toMatchObject({ name: 'Billing worker EU', permissions: ['read-only', 'products:read'], rateLimits: [{ name: 'per-minute', limit: 250, windowSeconds: 60 }] });
    expect(new Date(key.expiresAt!).getFullYear()).toBe(2030);
  });

  it('keeps the keys filters in the address: a reload shows the same list, revoked keys apart', async () => {
    await page.goto(`${stack.url}/#/keys`);
    await page.getByRole('row', { name: /edit-me/ }).waitFor();
    expect(await page.getByRole('row', { name: /retired-2023/ }).count()).toBe(0);
    await page.getByLabel('Search').fill('crawler');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByLabel('Environment').selectOption('test');
    await until(async () => (await hash()) === '#/keys?q=crawler&env=test', 'the filters in the address');
    await page.reload();
    await page.getByRole('row', { name: /staging-crawler/ }).waitFor();
    expect(await page.getByLabel('Search').inputValue()).toBe('crawler');
    expect(await page.getByLabel('Environment').inputValue()).toBe('test');
    expect(await page.getByRole('row', { name: /edit-me/ }).count()).toBe(0);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('link', { name: 'see revoked keys' }).click();
    await page.getByRole('heading', { name: 'Revoked API keys' }).waitFor();
    await page.getByRole('row', { name: /retired-2023/ }).waitFor();
    expect(await page.getByRole('row', { name: /edit-me/ }).count()).toBe(0);
    await page.reload();
    await page.getByRole('row', { name: /retired-2023/ }).waitFor();
    expect(await hash()).toBe('#/keys?status=revoked');
  });

  it("keeps the usage page's period in the address", async () => {
    await page.goto(`${stack.url}/#/usage`);
    const period = page.getByLabel('Period');
    await period.selectOption('week');
    await until(async () => (await hash()) === '#/usage?period=week', 'the period in the address');
    await page.reload();
    await until(async () => (await page.getByLabel('Period').inputValue()) === 'week', 'the period after a reload');
  });

  it('keeps the request log filters in the address, and a row opens its detail with seconds', async () => {
    // A management call that failed (404), for the log to hold.
    await stack.rest('GET', '/api-keys/no-such-key');
    await page.goto(`${stack.url}/#/logs`);
    await page.getByLabel('Calls').selectOption('management');
    await page.getByLabel(/^Status/).fill('4xx');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await until(async () => (await hash()) === '#/logs?status=4xx&kind=management', 'the log filters in the address');
    // Usage records are written about once a second: reload until the 404 is in.
    await until(async () => {
      await page.reload();
      await page.getByLabel(/^Status/).waitFor();
      return (await page.getByTestId('log-row').filter({ hasText: '404' }).count()) > 0;
    }, 'the 404 in the log', 15_000);
    expect(await page.getByLabel(/^Status/).inputValue()).toBe('4xx');
    expect(await page.getByLabel('Calls').inputValue()).toBe('management');
    // Other 4xx calls may be newer (the refused key edit above is one): the 404's row.
    const row = page.getByTestId('log-row').filter({ hasText: '404' }).first();
    expect(await row.textContent()).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    await row.getByRole('button', { name: /^Details of/ }).click();
    const detail = page.getByRole('dialog');
    await detail.getByText('404').first().waitFor();
    expect(await detail.textContent()).toContain('/api-keys/{id}');
    await detail.getByRole('button', { name: /close/i }).first().click();
  });

  it('the playground calls as the session by default, prefills the body, and shows valid:false as a refusal', async () => {
    await page.goto(`${stack.url}/#/playground`);
    const route = page.getByLabel('Route');
    await route.waitFor();
    await route.selectOption((await route.locator('option', { hasText: 'POST /v1/keys/verify' }).first().getAttribute('value'))!);
    const body = page.getByLabel('Body (JSON)');
    // Prefilled from the route's schema.
    expect(JSON.parse(await body.inputValue())).toMatchObject({ key: expect.any(String), permission: 'products:write' });
    expect(await page.getByTestId('auth-mode').textContent()).toMatch(/signed-in key \(bootstrap\)/);

    // No key pasted: the session's key (bootstrap, which may verify) makes the call.
    await body.fill(JSON.stringify({ key: workerSecret, permission: 'products:write' }));
    await page.getByRole('button', { name: 'Send request' }).click();
    const status = page.getByTestId('response-status');
    await until(async () => /^200/.test((await status.textContent()) ?? ''), 'the verification answer');
    expect(await status.getAttribute('class')).toContain('bad');
    expect(await page.getByTestId('verdict').textContent()).toMatch(/Refused.*INSUFFICIENT_PERMISSIONS/);
    await screenshot(page, 'edits-playground-refusal');

    await body.fill(JSON.stringify({ key: workerSecret, permission: 'products:read' }));
    await page.getByRole('button', { name: 'Send request' }).click();
    await until(async () => ((await page.getByTestId('verdict').textContent()) ?? '').startsWith('Valid'), 'the valid verdict');
    expect(await status.getAttribute('class')).toContain('good');

    // A pasted key still wins: a key without keys:verify is refused with 403.
    await page.getByRole('textbox', { name: /^API key/ }).fill(workerSecret);
    await page.getByRole('button', { name: 'Send request' }).click();
    await until(async () => /^403/.test((await status.textContent()) ?? ''), 'the pasted key refused');
  });
});
