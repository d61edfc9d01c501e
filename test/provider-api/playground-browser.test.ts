import http from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { buildUi, launchChromium, signInAt } from '../e2e/browser.js';

/**
 * The provider API in the playground, in Chromium against the real stack: an operator registers a
 * document in the console; a customer signed in with its key calls an operation through the proxy
 * and reads the answer. Both pages are saved to docs/screenshots/ and checked with axe-core.
 */
const DOCS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
let stack: Stack;
let browser: Browser;
let upstream: http.Server;
let base: string;

const doc = {
  openapi: '3.1.0',
  info: { title: 'Descriptra API', version: '2.1.0' },
  tags: [{ name: 'products' }, { name: 'descriptions' }],
  security: [{ descKey: [] }],
  components: {
    securitySchemes: { descKey: { type: 'apiKey', in: 'header', name: 'X-Descriptra-Key' } },
    schemas: { Description: { type: 'object', required: ['product_id', 'tone'], properties: { product_id: { type: 'string', example: 'prod_123' }, tone: { type: 'string', enum: ['friendly', 'formal'] }, max_words: { type: 'integer', example: 80 } } } },
  },
  paths: {
    '/products': { get: { operationId: 'listProducts', tags: ['products'], summary: 'List products', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { '200': { description: 'ok' } } } },
    '/products/{id}': { get: { operationId: 'getProduct', tags: ['products'], summary: 'One product', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok' } } } },
    '/descriptions': { post: { operationId: 'describe', tags: ['descriptions'], summary: 'Write a product description', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Description' } } } }, responses: { '201': { description: 'ok' } } } },
  },
};

beforeAll(async () => {
  await buildUi();
  upstream = http.createServer((req, res) => {
    const ok = req.headers['x-descriptra-key'] ? 200 : 401;
    res.writeHead(ok, { 'content-type': 'application/json', 'x-request-id': 'req_7f3a' });
    res.end(JSON.stringify({ id: req.url!.split('/').pop(), name: 'Lámpara nórdica', price: { amount: 4990, currency: 'EUR' }, tags: ['hogar', 'iluminación'] }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.2', r));
  base = `http://127.0.0.2:${(upstream.address() as AddressInfo).port}`;
  stack = await startStack({ worker: false, env: { GATEHOUSE_EGRESS_ALLOW_CIDRS: '127.0.0.2/32' } });
  browser = await launchChromium();
  await mkdir(DOCS, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  await stack?.close();
});

async function accessibilityProblems(p: Page): Promise<string[]> {
  await p.evaluate(axe.source);
  return p.evaluate(async () => {
    const { axe: run } = window as unknown as { axe: typeof import('axe-core') };
    const result = await run.run(document, { resultTypes: ['violations'] });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

async function signedIn(secret: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(15_000);
  await signInAt(page, stack.url + '/', secret);
  await page.getByRole('link', { name: 'Playground', exact: true }).waitFor();
  return page;
}

describe('provider API in the browser', () => {
  it('an operator registers the document on the Provider API page', async () => {
    const page = await signedIn(stack.bootstrapKey);
    await page.goto(`${stack.url}/#/operator/provider-api`);
    await page.getByLabel(/or paste it/).fill(JSON.stringify(doc, null, 2));
    await page.getByLabel('Base URL').fill(base);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('status').filter({ hasText: 'Registered' }).waitFor();
    expect(await page.getByTestId('registered').textContent()).toContain('Descriptra API');
    await page.screenshot({ path: `${DOCS}operator-provider-api.png`, fullPage: true });
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('a customer calls an operation from the playground and reads the answer', async () => {
    const ws = await stack.workspace(['admin']);
    const page = await signedIn(ws.secret);
    await page.getByRole('link', { name: 'Playground', exact: true }).click();
    await page.getByRole('button', { name: /GET \/products\/\{id\}/ }).click();
    await page.getByLabel(/^id/).fill('prod_123');
    await page.getByRole('combobox', { name: /^Key/ }).selectOption({ index: 1 });
    await page.getByLabel(/^Secret of/).fill(ws.secret);
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.getByTestId('provider-status').waitFor();
    expect(await page.getByTestId('provider-status').textContent()).toBe('200');
    expect(await page.getByTestId('provider-body').textContent()).toContain('"name": "Lámpara nórdica"');
    await page.screenshot({ path: `${DOCS}playground-provider-api.png`, fullPage: true });
    expect(await accessibilityProblems(page)).toEqual([]);
  });
});
