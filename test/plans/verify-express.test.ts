import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouse, type GatehouseMiddleware, type GatehouseVerification } from '@gatehouse/express';
import { startStack, type Stack } from '../harness.js';
import { insertKey } from '../verify/keys.js';
import { assignPlan, insertPlan, nextMonth } from './verify-helpers.js';

let stack: Stack;
const servers: { server: Server; guard: GatehouseMiddleware }[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
}, 120_000);
afterAll(async () => {
  for (const { server, guard } of servers) {
    await guard.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  await stack?.close();
});

/** A customer's API behind the middleware, verifying with the workspace's own service key. */
async function protectedApi(serviceKey: string): Promise<string> {
  const guard = gatehouse({ url: stack.url, apiKey: serviceKey, flushIntervalMs: 60_000 });
  const app = express();
  app.use(guard);
  app.get('/things', (_req, res) => {
    res.json({ seen: res.locals['gatehouse'] as GatehouseVerification });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  servers.push({ server, guard });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const call = (api: string, key: string) => fetch(`${api}/things`, { headers: { 'x-api-key': key } });

describe('the Express middleware under a plan', () => {
  it('passes the workspace limits through and says which one refused: a shared rate limit', async () => {
    const ws = await stack.workspace(['admin']);
    await assignPlan(stack, ws.workspaceId, await insertPlan(stack, { workspaceRateLimits: [{ limit: 2, windowSeconds: 3600 }], monthlyCalls: 1000 }));
    const api = await protectedApi(ws.secret);
    const a = await insertKey(stack, { workspaceId: ws.workspaceId });
    const b = await insertKey(stack, { workspaceId: ws.workspaceId });

    const ok = await call(api, a.secret);
    expect(ok.status).toBe(200);
    const seen = ((await ok.json()) as { seen: GatehouseVerification }).seen;
    expect(seen.ratelimit).toMatchObject({ scope: 'workspace', name: 'workspace:3600s', limit: 2, remaining: 1 });
    expect(seen.quota).toEqual({ scope: 'workspace', name: 'monthly_calls', limit: 1000, remaining: 999, reset: nextMonth() });
    expect(ok.headers.get('ratelimit-remaining')).toBe('1');

    expect((await call(api, b.secret)).status).toBe(200);
    const refused = await call(api, a.secret);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as { error: { code: string; message: string; limit: Record<string, unknown> } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toContain("shared rate limit 'workspace:3600s'");
    expect(body.error.limit).toMatchObject({ scope: 'workspace', name: 'workspace:3600s', limit: 2, remaining: 0 });
  });

  it('a monthly quota used up: 429 usage_exceeded naming the quota, retry at the month’s turn', async () => {
    const ws = await stack.workspace(['admin']);
    await assignPlan(stack, ws.workspaceId, await insertPlan(stack, { monthlyCalls: 1 }));
    const api = await protectedApi(ws.secret);
    const key = await insertKey(stack, { workspaceId: ws.workspaceId });
    expect((await call(api, key.secret)).status).toBe(200);
    const refused = await call(api, key.secret);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { error: { code: string; message: string; limit: Record<string, unknown> } };
    expect(body.error.code).toBe('usage_exceeded');
    expect(body.error.message).toContain('monthly call quota (1) is used up');
    expect(body.error.limit).toEqual({ scope: 'workspace', name: 'monthly_calls', limit: 1, remaining: 0, reset: nextMonth() });
    const retry = Number(refused.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(31 * 24 * 3600);

    // A key out of its own credits is still the key's refusal, not the workspace's.
    const other = await stack.workspace(['admin']);
    await assignPlan(stack, other.workspaceId, await insertPlan(stack, { monthlyCalls: 10 }));
    const brokeHere = await insertKey(stack, { workspaceId: other.workspaceId, credits: 0 });
    const otherApi = await protectedApi(other.secret);
    const noCredits = await call(otherApi, brokeHere.secret);
    expect(noCredits.status).toBe(429);
    const plain = (await noCredits.json()) as { error: { code: string; message: string; limit?: unknown } };
    expect(plain.error).toEqual({ code: 'usage_exceeded', message: 'No credits left on this API key' });
  });
});
