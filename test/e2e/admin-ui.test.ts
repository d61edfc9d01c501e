import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot, until, signInAt } from './browser.js';

/**
 * The admin UI in a real browser against the real stack (PostgreSQL, Temporal, worker, API).
 * The steps run in order and share one browser session, as a person clicking through would.
 */
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let createdSecret = '';
let rotatedSecret = '';
let readOnlySecret = '';
let receiver: Server;
let receiverUrl = '';
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
/** While true, the receiver's /hooks/flaky path answers 500. */
let flakyFails = true;
/** What Chromium reported blocking under the UI's Content-Security-Policy. */
const cspViolations: string[] = [];

beforeAll(async () => {
  await buildUi();
  // Two quick attempts, so a failing delivery gives up within the test.
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,200ms' } });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  context.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  // A customer's system receiving webhooks: answers 200 and remembers what came.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (req.url?.includes('flaky') && flakyFails) res.writeHead(500, { 'content-type': 'text/plain' }).end('database down');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/catalogue`;
}, 240_000);

// What the browser showed when a step failed: the first thing to look at.
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
});

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await browser?.close();
  await stack?.close();
});

async function signIn(secret: string) {
  await signInAt(page, stack.url + '/', secret);
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

  it('works from the keyboard: skip link, focus moves into a dialog, Escape closes it and focus returns', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const create = page.getByRole('button', { name: 'Create key' });
    await create.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('[role=dialog]') !== null)).toBe(true);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create key');
  });

  it('rotates the key with a grace period, counts it down, and ends it early', async () => {
    await page.getByRole('button', { name: 'Rotate api-key-produccion-2024' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('1 hour').check();
    await dialog.getByRole('button', { name: 'Rotate key' }).click();
    await dialog.getByTestId('secret').waitFor({ timeout: 30_000 });
    const fresh = await dialog.getByTestId('secret').inputValue();
    rotatedSecret = fresh;
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
    await until(async () => (await grace.locator('time').textContent()) !== first, 'the grace countdown to tick');
    // Both secrets work during the grace period (whoami needs a valid key; /healthz is public).
    for (const secret of [createdSecret, fresh]) {
      await expect((await stack.caller(secret)).system.whoami()).resolves.toMatchObject({ keyId: 'api-key-produccion-2024' });
    }
    await screenshot(page, '06-key-grace');

    await grace.getByRole('button', { name: 'End grace now' }).click();
    // It kills the old production secret, so it asks first.
    await expect(page.getByRole('dialog').textContent()).resolves.toMatch(/previous production secret .* stops working at once/);
    await page.getByRole('dialog').getByRole('button', { name: 'End grace now' }).click();
    await page.getByText(/Last rotation \(1\) completed/).waitFor();
    await expect((await stack.caller(createdSecret)).system.whoami()).rejects.toThrow();
    await expect((await stack.caller(fresh)).system.whoami()).resolves.toMatchObject({ keyId: 'api-key-produccion-2024' });
    await expect(page.getByRole('table').textContent()).resolves.toMatch(/rotat/);
    await screenshot(page, '07-key-detail');
  });

  it('adds an endpoint to a local receiver, publishes an event and watches the delivery succeed', async () => {
    await nav('Webhooks');
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('URL').fill(receiverUrl);
    await dialog.getByLabel('Description').fill('Store catalogue sync');
    await dialog.getByLabel('product.generated').check();
    await dialog.getByLabel('content.approved').check();
    await screenshot(page, '08-webhook-create');
    await dialog.getByRole('button', { name: 'Add endpoint' }).click();
    const signing = await dialog.getByTestId('secret').inputValue();
    expect(signing).toMatch(/^whsec_/);
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    const row = page.getByRole('row', { name: /hooks\/catalogue/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('product.generated');
    await expect(row.textContent()).resolves.toContain('content.approved');

    await page.getByRole('button', { name: 'Publish an event' }).click();
    await dialog.getByLabel('Type').selectOption('product.generated');
    await dialog.getByLabel('Payload (JSON)').fill('{"product_id": "prod_42", "title": "Lámpara"}');
    await dialog.getByRole('button', { name: 'Publish' }).click();
    await dialog.getByRole('link', { name: 'See its deliveries' }).click();
    await page.getByRole('heading', { name: /Event product.generated/ }).waitFor();
    const delivery = page.getByTestId('delivery');
    await delivery.getByText('succeeded').waitFor({ timeout: 30_000 });
    await delivery.getByText('1 attempt').click();
    await expect(delivery.textContent()).resolves.toMatch(/HTTP 200 in \d+ ms/);
    await expect(delivery.textContent()).resolves.toContain('thanks');
    const temporal = delivery.getByRole('link', { name: /Temporal/ });
    expect(await temporal.getAttribute('href')).toMatch(/\/namespaces\/default\/workflows\/delivery%3A/);
    await screenshot(page, '09-event-deliveries');

    const hit = received.find((r) => r.body.includes('prod_42'));
    expect(hit?.headers['webhook-signature']).toMatch(/^v1,/);

    // The endpoint's own page: a test event, delivered live while the page watches.
    // An event's deliveries name each endpoint by its URL, not its id.
    await delivery.getByRole('link', { name: /hooks\/catalogue/ }).click();
    await page.getByRole('heading', { name: /hooks\/catalogue/ }).waitFor();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText('Test event sent').waitFor();
    await page.getByRole('row', { name: /webhook.test/ }).getByText('succeeded').waitFor({ timeout: 30_000 });
    expect(received.some((r) => r.body.includes('A test event from Gatehouse'))).toBe(true);
    await screenshot(page, '10-webhook-endpoint');
    await nav('Webhooks');
    await page.getByRole('row', { name: /hooks\/catalogue/ }).getByText('100%').waitFor();
    await screenshot(page, '11-webhooks');
  });

  it('shows a failed delivery with its attempts, then recovers it once the receiver is back', async () => {
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('URL').fill(receiverUrl.replace('catalogue', 'flaky'));
    await dialog.getByLabel('export.completed').check();
    await dialog.getByRole('button', { name: 'Add endpoint' }).click();
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('link', { name: /hooks\/flaky/ }).click();
    await page.getByRole('heading', { name: /hooks\/flaky/ }).waitFor();

    await (await stack.caller()).events.publish({ type: 'export.completed', payload: { export_id: 'exp_9' } });
    const delivery = page.getByTestId('delivery');
    await delivery.getByText('failed', { exact: true }).waitFor({ timeout: 30_000 });
    await delivery.getByText('2 attempts').click();
    await expect(delivery.textContent()).resolves.toMatch(/HTTP 500[\s\S]*HTTP 500/);
    await expect(delivery.textContent()).resolves.toContain('database down');

    flakyFails = false;
    await page.getByRole('button', { name: 'Recover' }).click();
    const progress = page.getByRole('status').filter({ hasText: 'replayed' });
    await progress.getByText(/1 of 1 replayed · completed/).waitFor({ timeout: 30_000 });
    await delivery.getByText('succeeded').waitFor({ timeout: 30_000 });
    await screenshot(page, '10b-webhook-recovered');
    await nav('Webhooks');
    await page.getByRole('row', { name: /hooks\/flaky/ }).waitFor();
  });

  it('sends a request from the playground and shows status, headers, body and timing', async () => {
    await nav('Playground');
    const route = page.getByLabel('Route');
    await route.waitFor();
    const option = await route.locator('option', { hasText: 'GET /api-keys' }).first().getAttribute('value');
    await route.selectOption(option!);
    const keyBox = page.getByRole('textbox', { name: /^API key/ });
    await keyBox.fill(rotatedSecret);
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('response-status').textContent()).resolves.toMatch(/^200/);
    await expect(page.getByTestId('response-body').textContent()).resolves.toContain('api-key-produccion-2024');
    await expect(page.getByText(/ in \d+ ms/).first().textContent()).resolves.toMatch(/ in \d+ ms/);
    await page.getByText(/Headers \(\d+\)/).click();
    await page.getByRole('rowheader', { name: 'content-type', exact: true }).waitFor();
    const curl = await page.getByTestId('curl').textContent();
    expect(curl).toContain('curl -i -X GET');
    expect(curl).toContain('$GATEHOUSE_API_KEY');
    expect(curl).not.toContain(rotatedSecret);
    await screenshot(page, '12-playground');

    // A key that is not one: 401. No key at all: the signed-in session's key sends it (test/e2e/edits.test.ts).
    await keyBox.fill('gate_sk_live_not-a-real-key-at-all');
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('response-status').textContent()).resolves.toMatch(/^401/);
    await keyBox.fill('');
    await page.getByRole('button', { name: 'Send request' }).click();
    await expect(page.getByTestId('response-status').textContent()).resolves.toMatch(/^200/);
  });

  it('shows usage and the request log, and tails new requests live', async () => {
    // Usage is the API's traffic (verifications and reported calls), never the UI's or the
    // playground's calls to Gatehouse itself: a few verifications give the charts something to show.
    for (const key of [rotatedSecret, rotatedSecret, 'gh_live_not_a_key']) {
      expect((await stack.rest('POST', '/v1/keys/verify', { key: stack.bootstrapKey, body: { key } })).status).toBe(200);
    }
    await stack.deps.usage.flush();
    await nav('Usage');
    await page.getByRole('heading', { name: 'Per key: rate limits and credits' }).waitFor();
    // Every active key's figures, fetched in one usage.keys query: a header row plus one per key.
    await expect(page.getByRole('table', { name: "Use of each key's limits right now" }).getByRole('row').count()).resolves.toBeGreaterThan(2);
    await page.getByRole('heading', { name: 'Monthly reports' }).waitFor();
    await page.getByRole('heading', { name: 'Calls and errors' }).waitFor({ timeout: 20_000 }).catch(async () => {
      // Usage records are flushed in batches: give the playground's request a moment, then reload.
      await page.reload();
      await page.getByRole('heading', { name: 'Calls and errors' }).waitFor();
    });
    await screenshot(page, '13-usage');
    // The narrowest supported window: nothing may spill sideways.
    await page.setViewportSize({ width: 1024, height: 800 });
    // Charts redraw on their resize observer's next frame: wait for the layout to settle inside the window.
    const spilling = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('main *')].filter((el) => el.getBoundingClientRect().right > 1024).map((el) => `${el.tagName}.${el.className}`).slice(0, 5),
      );
    await until(async () => (await spilling()).length === 0, 'nothing to spill past 1024 px').catch(() => {});
    expect(await spilling()).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
    await screenshot(page, '13b-usage-1024px');
    await page.setViewportSize({ width: 1280, height: 860 });

    await nav('Logs');
    await page.getByRole('heading', { name: 'Request log' }).waitFor();
    // Your API's traffic first; Gatehouse's own API and UI calls one choice away.
    await page.getByTestId('log-row').filter({ hasText: 'VERIFY /v1/keys/verify' }).first().waitFor();
    expect(await page.getByTestId('log-row').filter({ hasText: 'GET /api-keys' }).count()).toBe(0);
    await page.getByLabel('Calls').selectOption('management');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByTestId('log-row').filter({ hasText: 'GET /api-keys' }).first().waitFor();
    await page.getByLabel('Live tail').check();
    await page.getByText('live', { exact: true }).waitFor();
    const before = await page.getByTestId('log-row').count();
    expect((await stack.rest('GET', '/api-keys/does-not-exist', { key: rotatedSecret })).status).toBe(404);
    await page.getByTestId('log-row').filter({ hasText: '404' }).first().waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('log-row').count()).toBeGreaterThan(before);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await screenshot(page, '14-logs');

    await nav('Dashboard');
    await page.getByRole('heading', { name: 'Calls per day' }).waitFor();
    await page.getByRole('img', { name: /Calls per day/ }).waitFor();
    await screenshot(page, '15-dashboard');
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
    await nav('Webhooks');
    await page.getByRole('row', { name: /hooks\/catalogue/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Add endpoint' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Publish an event' }).isDisabled()).toBe(true);

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

  it('revokes a key only after its id is typed, and that ends the sessions it opened', async () => {
    // The read-only user is still signed in on `page`; an admin revokes their key elsewhere.
    const admin = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const adminPage = await admin.newPage();
    adminPage.setDefaultTimeout(15_000);
    await signInAt(adminPage, stack.url + '/#/keys', stack.bootstrapKey);
    await adminPage.getByRole('button', { name: 'Revoke analytics-readonly' }).click();
    const dialog = adminPage.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Revoke key' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the key id/).fill('analytics-readonl');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel(/Type the key id/).fill('analytics-readonly');
    await screenshot(adminPage, '21-key-revoke');
    await confirm.click();
    // Revoked keys are listed apart: the row leaves the list and shows under "see revoked keys".
    await adminPage.getByRole('row', { name: /analytics-readonly/ }).waitFor({ state: 'detached' });
    await adminPage.getByRole('link', { name: 'see revoked keys' }).click();
    await adminPage.getByRole('row', { name: /analytics-readonly/ }).getByText('revoked').waitFor();
    await admin.close();

    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect((await stack.rest('GET', '/api-keys', { key: readOnlySecret })).status).toBe(401);
  });

  it('ran every step above under the UI’s Content-Security-Policy without a violation', () => {
    expect(cspViolations).toEqual([]);
  });
});
