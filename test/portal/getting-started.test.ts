import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typedDb } from '../../db/kysely.js';
import { simpleGet } from '../../core/portal/getting-started.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The portal's getting-started page (issue #13, item 5): what the server tells the signed-in
 * customer about calling the provider's API, over real PostgreSQL.
 */
let stack: Stack;
let secret = '';
beforeAll(async () => {
  stack = await startStack({ worker: false });
  const operator = await stack.caller();
  await operator.plans.create({ id: 'starter', name: 'Starter', monthlyCalls: 10_000, maxKeys: 3, maxWebhookEndpoints: 2, keyRateLimits: [{ limit: 100, windowSeconds: 60 }] });
  secret = (await operator.workspaces.create({ id: 'descriptra-customer', name: 'Customer' })).adminKey.secret;
  await operator.workspaces.update({ id: 'descriptra-customer', plan: 'starter' });
});
afterAll(() => stack?.close());

describe('portal.gettingStarted', () => {
  it("without a registered API: Gatehouse's own verify call, this Gatehouse's address, the plan's limits", async () => {
    // Over HTTP, as the portal asks: the base URL is the address the browser used.
    const res = await fetch(`${stack.url}/trpc/portal.gettingStarted`, { headers: { 'x-api-key': secret } });
    expect(res.status).toBe(200);
    const { result } = (await res.json()) as { result: { data: Record<string, any> } }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(result.data.api).toMatchObject({ registered: false, baseUrl: stack.url, keyHeader: 'x-api-key', keyScheme: 'header', example: { method: 'POST', path: '/v1/keys/verify' } });
    expect(result.data.limits).toEqual({
      planName: 'Starter',
      keyRateLimits: [{ limit: 100, windowSeconds: 60 }],
      workspaceRateLimits: [],
      monthlyCalls: 10_000,
      monthlyCredits: null,
      maxKeys: 3,
      maxWebhookEndpoints: 2,
    });
  });

  it('shows the newest active key, masked: a revoked newer key is skipped, and no secret is ever in the answer', async () => {
    const acme = await stack.caller(secret);
    const older = await acme.keys.create({ id: 'older', name: 'Older', permissions: ['read-only'] });
    const newer = await acme.keys.create({ id: 'newer', name: 'Newer', permissions: ['read-only'] });
    expect((await acme.portal.gettingStarted()).key).toEqual({ id: 'newer', name: 'Newer', start: newer.start });
    await acme.keys.revoke({ id: 'newer' });
    const answer = await acme.portal.gettingStarted();
    expect(answer.key).toEqual({ id: 'older', name: 'Older', start: older.start });
    expect(JSON.stringify(answer)).not.toContain(older.secret);
    expect(older.start).toMatch(/\*\*\*$/);
  });

  it("with a registered API: its base URL, key header and scheme, and a simple GET from its document", async () => {
    await typedDb(stack.orm.em.fork())
      .insertInto('provider_api')
      .values({
        id: 'default',
        title: 'Descriptra',
        version: '1.0.0',
        base_url: 'https://api.descriptra.example/v2',
        document: {
          openapi: '3.1.0',
          paths: {
            '/products': { post: { summary: 'Create a product' }, get: { summary: 'List products' } },
            '/products/{id}': { get: { summary: 'One product' } },
          },
        },
        source: '{}',
        key_header: 'Authorization',
        key_scheme: 'bearer',
        updated_at: new Date(),
        updated_by: 'test',
      })
      .execute();
    const { api } = await (await stack.caller(secret)).portal.gettingStarted();
    expect(api).toEqual({
      registered: true,
      title: 'Descriptra',
      baseUrl: 'https://api.descriptra.example/v2',
      keyHeader: 'Authorization',
      keyScheme: 'bearer',
      example: { method: 'GET', path: '/products', summary: 'List products' },
    });
  });
});

describe('the example operation', () => {
  it('prefers a GET needing nothing, then any GET without path parameters, else none', () => {
    const doc = (paths: Record<string, unknown>) => ({ paths });
    expect(simpleGet(doc({ '/a': { get: { operationId: 'a', parameters: [{ name: 'q', in: 'query', required: true }] } }, '/b': { get: { operationId: 'listB' } } }))).toMatchObject({ path: '/b', summary: 'listB' });
    expect(simpleGet(doc({ '/a': { get: { parameters: [{ name: 'q', in: 'query', required: true }] } } }))).toMatchObject({ path: '/a', summary: '' });
    expect(simpleGet(doc({ '/a/{id}': { get: {} }, '/b': { post: {} } }))).toBeNull();
    expect(simpleGet({})).toBeNull();
  });
});
