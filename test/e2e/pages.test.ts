import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import axe from 'axe-core';
import { ROUTES, routePath, type RouteName } from '../../ui/src/lib/routes.js';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, screenshot, SCREENSHOTS, until, signInAt } from './browser.js';

/**
 * Every page of the UI, and every dialog it opens, at 1280 px and at 375 px (a phone), with the data
 * a real customer has: six keys of different presets and limits (one rotated and in its grace
 * period, one refused by its rate limit), three endpoints (one always answering 500, one flaky, one
 * healthy), thirty events and two hundred verifications. The pages come from the UI's own route
 * table (ui/src/lib/routes.ts), so a new page is toured without anyone listing it here.
 * On each page and dialog: no horizontal scroll at 375 px, no serious or critical axe-core finding;
 * each page is saved to docs/screenshots/<page>-<width>.png (the README shows dashboard-1280.png).
 * Then every page once more in dark mode (prefers-color-scheme: dark) at 1280 px, checked by axe
 * (contrast included); the dashboard's is docs/screenshots/dashboard-dark-1280.png.
 * One stack and one browser for the whole tour, to keep it affordable.
 */
const DOCS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const WIDTHS = [1280, 375] as const;
const WORKSPACE = 'acme';

let stack: Stack;
let browser: Browser;
let receiver: Server;
let hooks = '';
let customerSecret = '';
const ids = { endpoint: '', healthy: '', event: '', key: 'storefront-prod', workspace: WORKSPACE };
/** Counts of what the receiver was sent, per path. */
const hits: Record<string, number> = {};

/** A button that opens a dialog on a page; `optional` for one a page shows only in some states. */
interface Opener {
  button: string | RegExp;
  expect?: RegExp;
  optional?: boolean;
  /** Shows a secret once: Escape must ask before closing, as Done does. */
  guarded?: boolean;
}

/** What each page's dialogs are opened by; the pages themselves come from ROUTES. */
const DIALOGS: Partial<Record<RouteName, Opener[]>> = {
  keys: [
    { button: 'Create key' },
    { button: 'Rotate mobile-app' },
    // Revoking the key you are signed in with says it signs you out.
    { button: 'Revoke admin', expect: /You are signed in with this key/ },
  ],
  key: [
    { button: 'Edit settings', optional: true },
    { button: 'Rotate' },
    { button: 'Revoke' },
    // It kills the old production secret: asked first.
    { button: 'End grace now', expect: /previous production secret .* stops working at once/ },
  ],
  webhooks: [{ button: 'Add endpoint' }, { button: 'Publish an event' }, { button: 'Add custom type' }],
  // Rotating shows the new secret once; its × asks before the secret is gone (checked in closeDialog).
  webhook: [{ button: 'Edit' }, { button: 'Delete endpoint', optional: true }, { button: 'Rotate secret', expect: /encrypted at rest/, guarded: true }],
  // A row of the request log opens its detail.
  logs: [{ button: /^Details of / }],
  usage: [{ button: 'Request more' }],
  'operator-customers': [{ button: 'Create workspace' }],
  'operator-plans': [{ button: 'Create plan' }, { button: 'Edit plan growth' }, { button: 'Delete plan growth' }],
  'operator-requests': [{ button: /^Approve request/ }, { button: /^Decline request/ }],
  // Both ask first: a revoke says its tokens stop verifying at once (a key exists once one was needed).
  'operator-signing-keys': [{ button: 'Rotate now' }, { button: /^Revoke /, expect: /stops verifying at once/, optional: true }],
};

/** The id each page with `:id` in its address shows. */
const ROUTE_IDS: Partial<Record<RouteName, () => string>> = {
  key: () => ids.key,
  webhook: () => ids.endpoint,
  event: () => ids.event,
  'operator-workspace': () => ids.workspace,
};

beforeAll(async () => {
  await buildUi();
  // Three quick attempts: the failing deliveries end within the setup.
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,200ms,400ms' } });
  let flaky = 0;
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      hits[path] = (hits[path] ?? 0) + 1;
      const fail = path.endsWith('/always-500') || (path.endsWith('/flaky') && flaky++ % 3 !== 2);
      res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' }).end(fail ? 'upstream unavailable' : 'ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  await seed();
  browser = await launchChromium();
  await mkdir(DOCS, { recursive: true });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await browser?.close();
  await stack?.close();
});

/** Runs one width's tour in its own browser context; on failure, saves what the browser showed first. */
async function inContext(width: number, name: string, steps: (p: Page) => Promise<void>, colorScheme: 'light' | 'dark' = 'light') {
  const context: BrowserContext = await browser.newContext({ viewport: { width, height: width < 768 ? 812 : 860 }, colorScheme });
  const p = await context.newPage();
  p.setDefaultTimeout(15_000);
  try {
    await steps(p);
  } catch (err) {
    await screenshot(p, `pages-failed-${name}-${width}`).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

/** The customer's workspace, as the provider sets it up and the customer then uses it. */
async function seed() {
  const operator = await stack.caller();
  await operator.plans.create({ id: 'growth', name: 'Growth', monthlyCalls: 50_000, maxKeys: 25, maxWebhookEndpoints: 10 });
  const created = await operator.workspaces.create({ id: WORKSPACE, name: 'Acme Retail' });
  customerSecret = created.adminKey.secret;
  await operator.workspaces.update({ id: WORKSPACE, plan: 'growth' });

  const acme = await stack.caller(customerSecret);
  const secrets: Record<string, string> = {};
  const keys = [
    { id: 'storefront-prod', name: 'Storefront (production)', permissions: ['write'], rateLimits: [{ name: 'per-minute', limit: 600, windowSeconds: 60 }] },
    { id: 'mobile-app', name: 'Mobile app', permissions: ['read-only'], rateLimits: [{ name: 'burst', limit: 20, windowSeconds: 1 }, { name: 'per-hour', limit: 5000, windowSeconds: 3600 }] },
    { id: 'partner-feed', name: 'Partner feed (test)', environment: 'test' as const, permissions: ['read-only'], credits: { remaining: 500, refill: { amount: 500, interval: 'monthly' as const } } },
    { id: 'ops-admin', name: 'Operations', permissions: ['admin'] },
    { id: 'inventory-sync', name: 'Inventory sync', permissions: ['products:read', 'products:write'], rateLimits: [{ name: 'per-minute', limit: 10, windowSeconds: 60 }] },
  ];
  for (const k of keys) secrets[k.id] = (await acme.keys.create(k)).secret;
  // A readable audit trail: a limit raised and a permission added.
  await acme.keys.update({ id: 'mobile-app', patch: { rateLimits: [{ name: 'burst', limit: 40, windowSeconds: 1 }, { name: 'per-hour', limit: 5000, windowSeconds: 3600 }] } });
  await acme.keys.update({ id: 'storefront-prod', patch: { permissions: ['write', 'orders:read'] } });
  // Rotated with a day's grace: the key page shows the countdown and "End grace now".
  await acme.keys.rotate({ id: 'storefront-prod', gracePeriodSeconds: 86_400 });

  const always500 = await acme.webhooks.create({ url: `${hooks}/always-500`, description: 'Legacy ERP (down)', eventTypes: null, httpsOnly: false });
  const flaky = await acme.webhooks.create({ url: `${hooks}/flaky`, description: 'Warehouse (flaky)', eventTypes: null, httpsOnly: false });
  ids.healthy = (await acme.webhooks.create({ url: `${hooks}/healthy`, description: 'Analytics', eventTypes: null, httpsOnly: false })).endpoint.id;
  ids.endpoint = flaky.endpoint.id;
  await acme.eventTypes.create({ name: 'order.placed' });
  await acme.eventTypes.create({ name: 'order.shipped' });
  for (let i = 0; i < 30; i++) {
    const event = await acme.events.publish({ type: i % 3 === 2 ? 'order.shipped' : 'order.placed', payload: { order_id: 1000 + i, total_cents: 1999 + i * 100 } });
    ids.event ||= event.id;
  }

  // Two hundred verifications over five keys; inventory-sync goes past its 10 a minute and is refused.
  const plan = [
    ...Array.from({ length: 90 }, () => 'storefront-prod'),
    ...Array.from({ length: 45 }, () => 'mobile-app'),
    ...Array.from({ length: 25 }, () => 'partner-feed'),
    ...Array.from({ length: 15 }, () => 'ops-admin'),
    ...Array.from({ length: 25 }, () => 'inventory-sync'),
  ];
  for (let i = 0; i < plan.length; i += 20) {
    await Promise.all(plan.slice(i, i + 20).map((id) => stack.rest('POST', '/v1/keys/verify', { key: customerSecret, body: { key: secrets[id] } })));
  }
  // A few that fail: a key that does not exist.
  for (let i = 0; i < 5; i++) await stack.rest('POST', '/v1/keys/verify', { key: customerSecret, body: { key: 'gate_sk_live_doesnotexistdoesnotexist0000' } });

  // A pending request for the provider's queue (its Approve and Decline dialogs).
  await acme.limits.request({ kind: 'workspace_quota', requestedLimit: 200_000, reason: 'Black Friday sale' });

  // The failing endpoint has given up on some deliveries, and every endpoint has been tried.
  await until(async () => (await acme.webhooks.deliveries({ id: always500.endpoint.id, status: 'failed', limit: 1 })).deliveries.length > 0, 'a failed delivery', 60_000);
  await until(async () => (hits['/hooks/healthy'] ?? 0) >= 30 && (hits['/hooks/flaky'] ?? 0) >= 30, 'deliveries to every endpoint', 60_000);
}

async function accessibilityProblems(p: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the UI's Content-Security-Policy does not govern.
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(axe.source);
  return p.evaluate(async () => {
    const { axe: run } = window as unknown as { axe: typeof import('axe-core') };
    const result = await run.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

/** No horizontal scroll at phone width, and nothing serious for axe. */
async function check(p: Page, what: string, width: number) {
  if (width < 768) {
    const { scrollWidth, innerWidth, wide } = await p.evaluate(() => ({
      scrollWidth: document.scrollingElement!.scrollWidth,
      innerWidth: window.innerWidth,
      // What sticks out (an element, or text overflowing its box), to say where to look when it fails.
      wide: (() => {
        const out: string[] = [];
        const name = (e: Element) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`;
        for (const e of document.querySelectorAll('body *')) {
          const right = e.getBoundingClientRect().right;
          if (right > window.innerWidth + 1) out.push(`${name(e)} (${Math.round(right)} px)`);
        }
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const range = document.createRange();
          range.selectNodeContents(n);
          const right = range.getBoundingClientRect().right;
          if (right > window.innerWidth + 1) out.push(`text "${(n.textContent ?? '').trim().slice(0, 30)}" in ${name(n.parentElement!)} (${Math.round(right)} px)`);
        }
        return out.slice(0, 8);
      })(),
    }));
    expect(scrollWidth, `${what} scrolls sideways at ${width} px: ${wide.join(', ')}`).toBeLessThanOrEqual(innerWidth);
  }
  expect(await accessibilityProblems(p), `${what} at ${width} px`).toEqual([]);
}

/** Waits until the page has its data: a heading, and no "Loading …" left in it. */
async function settled(p: Page) {
  await p.locator('main h1').first().waitFor();
  await until(async () => (await p.locator('main [role=status]', { hasText: /^Loading/ }).count()) === 0, 'the page to load', 20_000);
}

async function signIn(p: Page, secret: string) {
  await signInAt(p, stack.url + '/', secret);
  await p.getByRole('heading', { name: 'API Manager' }).waitFor();
}

async function closeDialog(p: Page, guarded = false) {
  const dialog = p.getByRole('dialog');
  await p.keyboard.press('Escape');
  // A show-once secret holds the closing: the dialog asks first, as its Done button does.
  const ask = dialog.getByRole('button', { name: 'Close anyway' });
  if (guarded) {
    await ask.waitFor();
    await expect(dialog.getByRole('alert').filter({ hasText: 'Close without storing' }).textContent()).resolves.toMatch(/not shown again/);
    await ask.click();
  } else if (await ask.isVisible()) await ask.click();
  await dialog.waitFor({ state: 'detached' });
}

/** Every page of one side (the customer's or the operator's); `dark`: the dark-mode pass, pages only. */
async function tour(p: Page, width: number, operator: boolean, dark = false) {
  for (const route of ROUTES.filter((r) => Boolean((r as { operator?: boolean }).operator) === operator)) {
    const path = routePath(route.pattern, ROUTE_IDS[route.name]?.());
    await p.goto(`${stack.url}/#${path}`);
    await settled(p);
    await expect(p.locator('main h1').first().textContent(), route.name).resolves.not.toMatch(/Page not found|Operators only/);
    await check(p, dark ? `${route.name} (dark)` : route.name, width);
    if (dark) {
      if (route.name === 'dashboard') await p.screenshot({ path: `${DOCS}dashboard-dark-${width}.png`, fullPage: true });
      continue;
    }
    await p.screenshot({ path: `${DOCS}${route.name}-${width}.png`, fullPage: true });

    for (const opener of DIALOGS[route.name] ?? []) {
      const button = p.getByRole('button', { name: opener.button, exact: typeof opener.button === 'string' }).first();
      if (opener.optional && (await button.count()) === 0) continue;
      await button.click();
      const dialog = p.getByRole('dialog');
      await dialog.waitFor();
      const name = `${route.name} dialog "${String(opener.button)}"`;
      if (opener.expect) await expect(dialog.textContent(), name).resolves.toMatch(opener.expect);
      await check(p, name, width);
      // The dialog as the phone shows it (the viewport, not the page behind), for a person to look at.
      if (width < 768) await p.screenshot({ path: `${SCREENSHOTS}/${route.name}-${String(opener.button).replace(/\W+/g, '-')}-${width}.png` });
      await closeDialog(p, opener.guarded);
    }
  }
}

describe('every page and dialog, at 1280 and 375 px', () => {
  for (const width of WIDTHS) {
    it(`the customer's pages at ${width} px`, async () => {
      await inContext(width, 'customer', async (p) => {
        await p.goto(stack.url + '/');
        await p.getByRole('button', { name: 'Sign in' }).waitFor();
        await check(p, 'sign-in', width);
        await p.screenshot({ path: `${DOCS}sign-in-${width}.png`, fullPage: true });
        await signIn(p, customerSecret);

        if (width < 768) {
          // The sidebar is a menu: hidden until its button opens it, closed again by navigating.
          const nav = p.getByRole('navigation', { name: 'Main' });
          expect(await nav.isVisible()).toBe(false);
          const menu = p.getByRole('button', { name: 'Menu' });
          await menu.focus();
          await p.keyboard.press('Enter');
          await nav.waitFor();
          expect(await menu.getAttribute('aria-expanded')).toBe('true');
          await check(p, 'open menu', width);
          await nav.getByRole('link', { name: 'Keys', exact: true }).click();
          // The Keys page's own heading (the dashboard has an "API keys" section too), then the menu closes.
          await p.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
          await nav.waitFor({ state: 'hidden', timeout: 5_000 });
        }
        await tour(p, width, false);

        // The one dialog a state opens: Resume on a paused endpoint asks what to do with what was held.
        await p.goto(`${stack.url}/#/webhooks/${ids.healthy}`);
        await settled(p);
        await p.getByRole('button', { name: 'Pause', exact: true }).click();
        await p.getByRole('button', { name: 'Resume', exact: true }).click();
        await p.getByRole('dialog').waitFor();
        await check(p, 'webhook dialog "Resume"', width);
        await closeDialog(p);
        await (await stack.caller(customerSecret)).webhooks.resume({ id: ids.healthy, deliverHeld: true });
      });
    }, 300_000);

    it(`the operator console at ${width} px`, async () => {
      await inContext(width, 'operator', async (p) => {
        await signIn(p, stack.bootstrapKey);
        await tour(p, width, true);
      });
    }, 300_000);
  }
});

describe('every page in dark mode', () => {
  it('the customer’s pages and the operator console at 1280 px: dark surfaces, nothing serious for axe', async () => {
    await inContext(1280, 'dark', async (p) => {
      await p.goto(stack.url + '/');
      await p.getByRole('button', { name: 'Sign in' }).waitFor();
      await check(p, 'sign-in (dark)', 1280);
      await signIn(p, customerSecret);
      // The palette applies: the page's background is app.css's dark --bg, not the light one.
      expect(await p.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(15, 19, 24)');
      await tour(p, 1280, false, true);
      await p.getByRole('button', { name: 'Sign out' }).click();
      // Signed out once the form is back: loading the page sooner could still find the session.
      await p.getByRole('button', { name: 'Sign in' }).waitFor();
      await signIn(p, stack.bootstrapKey);
      await tour(p, 1280, true, true);
    }, 'dark');
  }, 300_000);
});
