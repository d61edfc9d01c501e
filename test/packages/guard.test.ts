// @gatehouse/express's documented choices, against a real Gatehouse: the short cache of VALID
// verdicts (off by default), fail open / fail closed when Gatehouse cannot be asked, the usage
// buffer's bound while it is unreachable, and close() sending what is left.
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuard, gatehouse, type GatehouseMiddleware, type GatehouseOptions } from '@gatehouse/express';
import { startStack, type Stack } from '../harness.js';
import { waitFor } from '../rotation/helpers.js';

let stack: Stack;
let root: { workspaceId: string; secret: string; keyId: string };
const open: { server: Server; guard: GatehouseMiddleware }[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  root = await stack.workspace(['admin']);
});
afterAll(async () => {
  for (const { server, guard } of open) {
    await guard.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  await stack.close();
});

/** A service with `/read` (products:read) and `/write` (products:write) behind one middleware. */
async function service(opts: Partial<GatehouseOptions>): Promise<(path: string, key?: string) => Promise<Response>> {
  const guard = gatehouse({
    url: stack.url,
    apiKey: root.secret,
    flushIntervalMs: 60_000,
    permission: (req) => (req.path === '/write' ? 'products:write' : 'products:read'),
    ...opts,
  });
  const app = express();
  app.use(guard);
  const handler: RequestHandler = (_req, res) => {
    res.json({ code: (res.locals['gatehouse'] as { code: string }).code });
  };
  app.get('/read', handler);
  app.get('/write', handler);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  open.push({ server, guard });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return (path, key) => fetch(base + path, { headers: key ? { 'x-api-key': key } : {} });
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key: root.secret, body });
  expect(res.status).toBe(201);
  return res.body.api_key as string;
}

async function verifications(keyId: string): Promise<number> {
  await stack.deps.usage.flush();
  const log = await stack.rest('GET', `/logs?source=verification&key_id=${keyId}&limit=100`, { key: root.secret });
  return log.body.entries.length as number;
}

/** An address nothing listens on: Gatehouse unreachable. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

describe('@gatehouse/express: the short cache (cacheTtlMs)', () => {
  it('is off by default: a revoked key is refused on its next request', async () => {
    const call = await service({});
    const key = await createKey({ id: 'uncached', permissions: ['products:read'] });
    expect((await call('/read', key)).status).toBe(200);
    expect((await stack.rest('POST', '/api-keys/uncached/revoke', { key: root.secret })).status).toBe(200);
    expect((await call('/read', key)).status).toBe(401);
  });

  it('asks Gatehouse once per key and permission within the period, and keeps letting a revoked key in until it ends', async () => {
    const call = await service({ cacheTtlMs: 60_000 });
    const key = await createKey({ id: 'cached', permissions: ['products:read'] });
    for (let i = 0; i < 3; i++) expect((await call('/read', key)).status).toBe(200);
    expect(await verifications('cached')).toBe(1);
    // Another permission is another question: refused, and a refusal is never kept.
    expect((await call('/write', key)).status).toBe(403);
    expect((await call('/write', key)).status).toBe(403);
    expect(await verifications('cached')).toBe(3);
    // The documented trade-off: revoked, the key still passes until its cached verdict expires.
    expect((await stack.rest('POST', '/api-keys/cached/revoke', { key: root.secret })).status).toBe(200);
    expect((await call('/read', key)).status).toBe(200);
  });

  it('asks again once the period is over, and does not keep refusals', async () => {
    const call = await service({ cacheTtlMs: 300 });
    const key = await createKey({ id: 'short', permissions: ['products:read'] });
    expect((await call('/read', key)).status).toBe(200);
    expect((await stack.rest('POST', '/api-keys/short/revoke', { key: root.secret })).status).toBe(200);
    await waitFor('the revoked key refused once its cached verdict expired', async () => (await call('/read', key)).status === 401, 10_000, 50);

    const later = await createKey({ id: 'disabled-first', permissions: ['products:read'], enabled: false });
    expect((await call('/read', later)).status).toBe(401);
    expect((await stack.rest('PATCH', '/api-keys/disabled-first', { key: root.secret, body: { enabled: true } })).status).toBe(200);
    expect((await call('/read', later)).status).toBe(200);
  });
});

describe('@gatehouse/express: Gatehouse unreachable', () => {
  it('fails closed by default: 503, and onError says why without the caller key', async () => {
    const errors: Error[] = [];
    const call = await service({ url: await deadUrl(), onError: (e) => errors.push(e) });
    const res = await call('/read', 'gate_sk_live_the-callers-own-secret');
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('unavailable');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((e) => e.message).join('\n')).not.toContain('the-callers-own-secret');
  });

  it('fails open when asked to: the request goes through marked UNVERIFIED', async () => {
    const call = await service({ url: await deadUrl(), failOpen: true, onError: () => {} });
    const res = await call('/read', 'gate_sk_live_anything');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ code: 'UNVERIFIED' });
    // Without credentials there is nothing to be unsure about: still 401.
    expect((await call('/read')).status).toBe(401);
  });
});

describe('@gatehouse/express: usage reports', () => {
  it('keeps the newest maxBuffer reports while Gatehouse is unreachable, then sends them', async () => {
    let down = true;
    const errors: string[] = [];
    const guard = createGuard({
      url: stack.url,
      apiKey: root.secret,
      batchSize: 100,
      maxBuffer: 250,
      flushIntervalMs: 60_000,
      onError: (e) => errors.push(e.message),
      fetch: (input, init) => (down ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init)),
    });
    await createKey({ id: 'reported', permissions: ['products:read'] });
    for (let i = 0; i < 400; i++) guard.report({ key_id: 'reported', method: 'GET', route: `/buffered/${i}`, status: 200, latency_ms: 1, time: new Date().toISOString(), code: 'VALID' });
    await guard.flush();
    expect(errors.some((m) => m.includes('usage report failed'))).toBe(true);
    down = false;
    await guard.close();
    expect(errors.some((m) => /the 150 oldest reports were dropped/.test(m))).toBe(true);
    await stack.deps.usage.flush();
    const usage = await stack.rest('GET', '/usage/keys/reported', { key: root.secret });
    expect(usage.body.calls_today).toBe(250);
    const route = async (i: number) => (await stack.rest('GET', `/logs?source=service&route=/buffered/${i}`, { key: root.secret })).body.entries.length;
    expect([await route(149), await route(150), await route(399)]).toEqual([0, 1, 1]);
  });

  it('close() sends what is buffered', async () => {
    const guard = createGuard({ url: stack.url, apiKey: root.secret, flushIntervalMs: 60_000 });
    await createKey({ id: 'closing', permissions: ['products:read'] });
    for (let i = 0; i < 3; i++) guard.report({ key_id: 'closing', method: 'GET', route: '/closing', status: 200, latency_ms: 2, time: new Date().toISOString(), code: 'VALID' });
    await guard.close();
    await stack.deps.usage.flush();
    const usage = await stack.rest('GET', '/usage/keys/closing', { key: root.secret });
    expect(usage.body.calls_today).toBe(3);
  });
});
