import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import axe from 'axe-core';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot, until, signInAt } from './browser.js';

/**
 * The operator console in a real browser against the real stack: the provider signs in with the
 * bootstrap (operator) key, sells a plan, creates a customer, watches it near its quota, views its
 * pages as the customer, and approves what it asked for. The customer signs in beside it and sees
 * the quota banner. The steps run in order, as a person clicking through would, and each page is
 * saved to docs/screenshots/ (the README and docs/operator-console.md show them).
 */
const DOCS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const WORKSPACE = 'acme';
const PLAN = 'starter';

let stack: Stack;
let browser: Browser;
let operator: BrowserContext;
let page: Page;
let customerSecret = '';
let requestId = '';

beforeAll(async () => {
  await buildUi();
  stack = await startStack();
  browser = await launchChromium();
  operator = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await operator.newPage();
  page.setDefaultTimeout(15_000);
  await mkdir(DOCS, { recursive: true });
}, 240_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && page) await screenshot(page, `operator-failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}`);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** Each page documented is also checked with axe-core: no serious or critical violation. */
async function docShot(p: Page, name: string) {
  await p.screenshot({ path: `${DOCS}${name}.png`, fullPage: true });
  expect(await accessibilityProblems(p), name).toEqual([]);
}

async function accessibilityProblems(p: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the UI's Content-Security-Policy does not govern.
  await p.evaluate(axe.source);
  return p.evaluate(async () => {
    const { axe: run } = window as unknown as { axe: typeof import('axe-core') };
    const result = await run.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

async function signIn(p: Page, secret: string) {
  await signInAt(p, stack.url + '/', secret);
  await p.getByRole('heading', { name: 'API Manager' }).waitFor();
}

const operatorNav = (name: string) => page.getByRole('navigation', { name: 'Operator' }).getByRole('link', { name, exact: true }).click();

describe('operator console in Chromium', () => {
  it('an operator sees the console; a plan is created in the plans editor', async () => {
    await signIn(page, stack.bootstrapKey);
    await operatorNav('Plans');
    await page.getByRole('heading', { name: 'Plans' }).waitFor();
    await page.getByRole('button', { name: 'Create plan' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Plan id').fill(PLAN);
    await dialog.getByLabel('Name').fill('Starter');
    await dialog.getByLabel('Monthly calls').fill('10');
    await dialog.getByLabel('Max keys').fill('5');
    await dialog.getByRole('button', { name: 'Add workspace rate limits' }).click();
    await dialog.getByLabel('Limit', { exact: true }).fill('100');
    await dialog.getByRole('button', { name: 'Create plan' }).click();
    const row = page.getByRole('row', { name: /Starter/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/10.*100 \/ 1 min/);
    // A second plan, to show the editor with more than one row and the default flag.
    await page.getByRole('button', { name: 'Create plan' }).click();
    await dialog.getByLabel('Plan id').fill('free');
    await dialog.getByLabel('Name').fill('Free');
    await dialog.getByLabel('Monthly calls').fill('1000');
    await dialog.getByLabel('Default plan for new workspaces').check();
    await dialog.getByRole('button', { name: 'Create plan' }).click();
    await expect(page.getByRole('row', { name: /Free/ }).textContent()).resolves.toContain('default');
    await docShot(page, 'operator-plans');
  });

  it('creates a workspace: its first admin key is shown once', async () => {
    await operatorNav('Customers');
    await page.getByRole('heading', { name: 'Customers' }).waitFor();
    await page.getByRole('button', { name: 'Create workspace' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Workspace id').fill(WORKSPACE);
    await dialog.getByLabel('Name').fill('Acme Corp');
    await dialog.getByRole('button', { name: 'Create workspace' }).click();
    const secret = dialog.getByTestId('secret');
    await secret.waitFor();
    customerSecret = await secret.inputValue();
    expect(customerSecret).toMatch(/^gate_sk_live_/);
    await docShot(page, 'operator-create-workspace');
    await dialog.getByLabel('I have stored this secret somewhere safe').check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { name: /Acme Corp/ }).waitFor();
    expect(await page.content()).not.toContain(customerSecret);
  });

  it('assigns the plan on the workspace page; effective limits follow', async () => {
    await page.getByLabel('Plan', { exact: true }).selectOption(PLAN);
    await page.getByRole('button', { name: 'Save plan and overrides' }).click();
    await until(async () => (await page.getByRole('region', { name: 'Effective limits' }).textContent())?.includes('100 / 1 min') ?? false, 'the new limits');
    const limits = await page.getByRole('region', { name: 'Effective limits' }).textContent();
    expect(limits).toMatch(/Monthly calls\s*10/);
    await expect(page.getByText(/Plan Starter/).count()).resolves.toBeGreaterThan(0);
  });

  it('the customer nears its quota and asks for more through the API; the customers table shows it', async () => {
    for (let i = 0; i < 9; i++) {
      const res = await stack.rest('POST', '/v1/keys/verify', { key: customerSecret, body: { key: customerSecret } });
      expect(res.body.valid).toBe(true);
    }
    await stack.deps.usage.flush();
    const asked = await stack.rest('POST', '/limit-requests', { key: customerSecret, body: { kind: 'workspace_quota', requested_limit: 1000, reason: 'Launch week' } });
    expect(asked.status).toBe(201);
    requestId = asked.body.id;

    // Thousands of customers: the table pages on the server.
    await stack.orm.em
      .fork()
      .execute(`insert into workspace (id, name, key_prefix, created_at) select 'bulk-' || n, 'Bulk customer ' || n, 'gate', now() - n * interval '1 minute' from generate_series(1, 2500) n`);
    await operatorNav('Customers');
    const pager = page.getByRole('navigation', { name: 'Customer pages' });
    await until(async () => /^1–50 of 2,50\d$/.test((await pager.locator('span').textContent()) ?? ''), 'the first page of 2,500 customers');
    await pager.getByRole('button', { name: 'Next' }).click();
    await until(async () => (await pager.locator('span').textContent())?.startsWith('51–100 of') ?? false, 'the second page');
    await pager.getByRole('button', { name: 'Previous' }).click();
    const row = page.getByRole('row', { name: /Acme Corp/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('9 / 10');
    expect(await page.getByRole('meter', { name: `${WORKSPACE} calls against quota` }).getAttribute('aria-valuenow')).toBe('9');
    // Sortable and searchable: the search narrows the table to the one customer.
    await page.getByRole('button', { name: 'Customer', exact: true }).click();
    await page.getByRole('searchbox').fill('acm');
    await until(async () => (await page.getByRole('row').count()) === 2, 'the search');
    await docShot(page, 'operator-customers');
  });

  it('the customer sees the quota banner at ≥ 80 %', async () => {
    const customer = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await customer.newPage();
    p.setDefaultTimeout(15_000);
    await signIn(p, customerSecret);
    const banner = p.getByRole('status', { name: 'Monthly quota' });
    await banner.waitFor();
    await expect(banner.textContent()).resolves.toMatch(/9 of 10 calls used \(90%\)/);
    await expect(banner.textContent()).resolves.toMatch(/resets on 1 /);
    // No operator console for a customer.
    expect(await p.getByRole('navigation', { name: 'Operator' }).count()).toBe(0);
    await docShot(p, 'customer-quota-banner');
    await p.getByRole('link', { name: 'Request more' }).click();
    await p.getByRole('dialog', { name: 'Ask your provider for more' }).waitFor();
    await p.getByRole('row', { name: /Launch week/ }).waitFor();
    await docShot(p, 'customer-limit-request');
    await customer.close();
  });

  it('views the workspace as its customer: read-only, audited once', async () => {
    await page.getByRole('row', { name: /Acme Corp/ }).getByRole('link', { name: 'Acme Corp' }).click();
    await page.getByRole('heading', { name: /Acme Corp/ }).waitFor();
    await page.getByRole('img', { name: /Calls per day this month for Acme Corp/ }).waitFor();
    await docShot(page, 'operator-workspace');
    await page.getByRole('button', { name: 'View as customer' }).click();
    const banner = page.getByRole('status').filter({ hasText: 'as customer (read-only)' });
    await banner.waitFor();
    await expect(banner.textContent()).resolves.toContain('Viewing Acme Corp as customer (read-only)');
    await expect(page.getByText('signed in as').textContent()).resolves.toContain(WORKSPACE);
    await page.getByRole('status', { name: 'Monthly quota' }).waitFor();
    // The customer's own pages, read-only: no operator console meanwhile.
    expect(await page.getByRole('navigation', { name: 'Operator' }).count()).toBe(0);
    await docShot(page, 'operator-view-as');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys', exact: true }).click();
    await page.getByRole('row', { name: /admin/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Create key' }).isDisabled()).toBe(true);

    const entries = await stack.orm.em
      .fork()
      .execute<{ actor_key_id: string }[]>(`select actor_key_id from audit_log where workspace_id = ? and action = 'workspace.viewed_as'`, [WORKSPACE]);
    expect(entries).toEqual([{ actor_key_id: 'bootstrap' }]);

    await banner.getByRole('button', { name: 'Exit' }).click();
    await page.getByRole('navigation', { name: 'Operator' }).waitFor();
    await page.getByRole('heading', { name: /Acme Corp/ }).waitFor();
  });

  it('approves the pending request from the queue', async () => {
    await operatorNav('Limit requests');
    const row = page.getByRole('row', { name: /Launch week/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('monthly quota: 10 → 1,000 calls');
    await docShot(page, 'operator-requests');
    await row.getByRole('button', { name: /Approve/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Approve request' });
    await dialog.getByLabel('Amount to grant').fill('500');
    await dialog.getByLabel(/Note to the customer/).fill('500 for launch week; ask again if you need more');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await until(async () => (await page.getByRole('row', { name: /Launch week/ }).count()) === 0, 'the request to leave the pending queue');
    const decided = await stack.rest('GET', '/limit-requests', { key: customerSecret });
    expect(decided.body.limit_requests.find((r: { id: string }) => r.id === requestId)).toMatchObject({ status: 'approved', approved_limit: 500 });
  });

  it('deleting a plan in use is refused, naming its workspaces', async () => {
    await operatorNav('Plans');
    await page.getByRole('button', { name: `Delete plan ${PLAN}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Delete plan' }).click();
    await expect(dialog.getByRole('alert').textContent()).resolves.toContain(WORKSPACE);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('row', { name: /Starter/ }).count()).resolves.toBe(1);
  });

  it('provider charts: calls per day across customers, top 10 by calls and by errors', async () => {
    await operatorNav('Provider usage');
    await page.getByRole('img', { name: /Calls per day across all customers/ }).waitFor();
    await expect(page.getByRole('region', { name: 'Top 10 by calls' }).textContent()).resolves.toContain('Acme Corp');
    await page.getByRole('region', { name: 'Top 10 by errors' }).waitFor();
    await docShot(page, 'operator-provider');
  });
});
