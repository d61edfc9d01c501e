import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Imported by package name, as another TypeScript service would after `npm i @gatehouse/client`.
import { createGatehouseClient, isTRPCClientError, type AppRouter } from '@gatehouse/client';
import type { inferRouterOutputs } from '@trpc/server';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

type KeyFromServer = inferRouterOutputs<AppRouter>['keys']['get'];

describe('createGatehouseClient', () => {
  it('manages keys over HTTP with typed inputs and outputs', async () => {
    const gatehouse = createGatehouseClient({ url: `${stack.url}/`, apiKey: stack.bootstrapKey });
    const created = await gatehouse.keys.create.mutate({
      id: 'from-client',
      name: 'Billing service',
      permissions: ['read-only', 'invoices:write'],
      rateLimits: [{ name: 'per-second', limit: 10, windowSeconds: 1 }],
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(created.secret).toMatch(/^gate_sk_live_/);
    expect(created.expiresAt).toEqual(expect.any(String));

    // Calls in one tick travel in one batch; each answer keeps its own type.
    const [one, page] = await Promise.all([gatehouse.keys.get.query({ id: 'from-client' }), gatehouse.keys.list.query({ search: 'from-client' })]);
    const typed: KeyFromServer = one;
    expect(typed.scopes).toContain('invoices:write');
    expect(one).not.toHaveProperty('secret');
    expect(page.keys.map((k) => k.id)).toEqual(['from-client']);

    const updated = await gatehouse.keys.update.mutate({ id: 'from-client', patch: { enabled: false } });
    expect(updated.status).toBe('disabled');
    const trail = await gatehouse.keys.auditTrail.query({ id: 'from-client' });
    expect(trail.entries.map((e) => e.action)).toEqual(['key.updated', 'key.created']);
    await gatehouse.keys.delete.mutate({ id: 'from-client' });
  });

  it('reports errors as TRPCClientError with the server code and message', async () => {
    const gatehouse = createGatehouseClient({ url: stack.url, apiKey: stack.bootstrapKey });
    const missing = await gatehouse.keys.get.query({ id: 'not-there' }).catch((e: unknown) => e);
    expect(isTRPCClientError(missing)).toBe(true);
    expect((missing as { data: { code: string } }).data.code).toBe('NOT_FOUND');
    expect((missing as Error).message).toBe("API key 'not-there' was not found");

    const badInput = await gatehouse.keys.create.mutate({ id: '../etc' }).catch((e: unknown) => e);
    expect((badInput as { data: { code: string; issues: { path: string }[] } }).data).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: 'id' }] });

    const stranger = createGatehouseClient({ url: stack.url, apiKey: 'gate_sk_live_0000000000000000000000000000' });
    const unauthorized = await stranger.keys.list.query().catch((e: unknown) => e);
    expect((unauthorized as { data: { code: string } }).data.code).toBe('UNAUTHORIZED');
  });
});
