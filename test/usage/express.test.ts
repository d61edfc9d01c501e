import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouse, type GatehouseMiddleware } from '@gatehouse/express';
import { startStack, type Stack } from '../harness.js';
import { clearOfWindowEdge } from '../window-edge.js';

let stack: Stack;
let root: { workspaceId: string; secret: string; keyId: string };
let guard: GatehouseMiddleware;
let server: Server;
let api: string;
const errors: Error[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  root = await stack.workspace(['admin']);
  guard = gatehouse({ url: stack.url, apiKey: root.secret, permission: 'products:read', flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
  // The protected service: a customer's own API.
  const app = express();
  app.use(guard);
  app.get('/products/:id', (req, res) => {
    res.json({ id: req.params.id, by: (res.locals['gatehouse'] as { key_id: string }).key_id });
  });
  app.get('/boom', (_req, res) => {
    res.status(500).json({ error: 'boom' });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await stack.close();
});

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key: root.secret, body });
  expect(res.status).toBe(201);
  return res.body.api_key as string;
}

const call = (path: string, key?: string) => fetch(api + path, { headers: key ? { 'x-api-key': key } : {} });

describe('gatehouse() Express middleware against a real Gatehouse', () => {
  it('answers 401, 403 and 429 itself, lets valid keys through, and reports every response', async () => {
    const reader = await createKey({ id: 'reader', permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 2, window_seconds: 60 }] });
    const writer = await createKey({ id: 'writer', permissions: ['products:write'] });

    const none = await call('/products/1');
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    const wrong = await call('/products/1', 'gate_sk_live_thisisnotakey');
    expect(wrong.status).toBe(401);
    const forbidden = await call('/products/1', writer);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.code).toBe('insufficient_permissions');

    await clearOfWindowEdge(60);
    const ok1 = await call('/products/42', reader);
    expect(ok1.status).toBe(200);
    expect(await ok1.json()).toEqual({ id: '42', by: 'reader' });
    expect(ok1.headers.get('ratelimit-limit')).toBe('2');
    expect(ok1.headers.get('ratelimit-remaining')).toBe('1');
    const boom = await call('/boom', reader);
    expect(boom.status).toBe(500);
    const limited = await call('/products/43', reader);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);

    await guard.flush();
    await stack.deps.usage.flush();
    expect(errors).toEqual([]);
    const log = await stack.rest('GET', '/logs?source=service&limit=100', { key: root.secret });
    const seen = log.body.entries
      .map((e: { key_id: string | null; route: string; status: number; code: string | null }) => [e.key_id, e.route, e.status, e.code])
      .reverse();
    expect(seen).toEqual([
      [null, '/products/{id}', 401, null],
      [null, '/products/{id}', 401, 'NOT_FOUND'],
      ['writer', '/products/{id}', 403, 'INSUFFICIENT_PERMISSIONS'],
      ['reader', '/products/{id}', 200, 'VALID'],
      ['reader', '/boom', 500, 'VALID'],
      ['reader', '/products/{id}', 429, 'RATE_LIMITED'],
    ]);
    for (const e of log.body.entries) expect(e.latency_ms).toBeGreaterThan(0);

    // Each call counts once: the reported record, not also the verification behind it.
    const usage = await stack.rest('GET', '/usage/keys/reader', { key: root.secret });
    expect(usage.body.calls_today).toBe(3);
    const verifications = await stack.rest('GET', '/logs?source=verification&key_id=reader', { key: root.secret });
    expect(verifications.body.entries).toHaveLength(3);
  });

  it('answers 503 when Gatehouse refuses its own key, and says why through onError', async () => {
    const broken = gatehouse({ url: stack.url, apiKey: 'gate_sk_live_notthekey', flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
    const app = express();
    app.use(broken);
    app.get('/x', (_req, res) => {
      res.json({});
    });
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const before = errors.length;
    const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/x`, { headers: { 'x-api-key': 'anything-at-all-here' } });
    expect(res.status).toBe(503);
    expect(errors.length).toBeGreaterThan(before);
    expect(errors.map((e) => e.message).join(' ')).not.toContain('anything-at-all-here');
    await broken.close();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });

  it('reports a request once, by the last of two guards it passed, and nothing for routes no guard saw', async () => {
    const key = await createKey({ id: 'twice', permissions: ['products:read', 'orders:read'] });
    const inner = gatehouse({ url: stack.url, apiKey: root.secret, permission: 'orders:read', flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
    const app = express();
    app.get('/open', (_req, res) => {
      res.json({});
    });
    app.use(guard);
    app.get('/twice/:id', inner, (_req, res) => {
      res.json({});
    });
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/twice/7`, { headers: { 'x-api-key': key } })).status).toBe(200);
    expect((await fetch(`${base}/open`)).status).toBe(200);
    await inner.close();
    await guard.flush();
    await stack.deps.usage.flush();
    const log = await stack.rest('GET', '/logs?source=service&key_id=twice&limit=100', { key: root.secret });
    expect(log.body.entries.map((e: { route: string; status: number }) => [e.route, e.status])).toEqual([['/twice/{id}', 200]]);
    const open = await stack.rest('GET', '/logs?source=service&limit=100', { key: root.secret });
    expect(open.body.entries.map((e: { route: string }) => e.route)).not.toContain('/open');
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });
});

describe('POST /v1/usage', () => {
  it('accepts good records and names each bad one by index and field (207)', async () => {
    const now = new Date().toISOString();
    const res = await stack.rest('POST', '/v1/usage', {
      key: root.secret,
      body: {
        records: [
          { key_id: 'reader', method: 'GET', route: '/orders/{id}', status: 200, latency_ms: 12.5, time: now },
          { key_id: 'reader', method: 'GET', route: '/orders/{id}', status: 999, latency_ms: 1 },
          { key_id: 'no-such-key', method: 'GET', route: '/orders', status: 200, latency_ms: 1 },
          { method: 'POST', route: 'orders', status: 201, latency_ms: 3 },
          { method: 'POST', route: '/orders', status: 201, latency_ms: 3, time: '2001-01-01T00:00:00Z' },
          { method: 'POST', route: '/orders', status: 201, latency_ms: 3, extra: true },
          { method: 'DELETE', route: '/orders/{id}', status: 204, latency_ms: 7 },
        ],
      },
    });
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toBe(5);
    expect(res.body.errors.map((e: { index: number; field?: string }) => [e.index, e.field])).toEqual([
      [1, 'status'],
      [2, 'key_id'],
      [3, 'route'],
      [4, 'time'],
      [5, undefined],
    ]);
    await stack.deps.usage.flush();
    const log = await stack.rest('GET', '/logs?route=/orders/{id}&source=service', { key: root.secret });
    expect(log.body.entries.map((e: { method: string; status: number }) => [e.method, e.status])).toEqual([
      ['DELETE', 204],
      ['GET', 200],
    ]);
  });

  it('answers 202 when every record is accepted, 400 for a body that is no batch, 403 without usage:write', async () => {
    const ok = await stack.rest('POST', '/v1/usage', { key: root.secret, body: { records: [{ method: 'GET', route: '/a', status: 200, latency_ms: 1 }] } });
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ accepted: 1, rejected: 0, errors: [] });
    const empty = await stack.rest('POST', '/v1/usage', { key: root.secret, body: { records: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe('records');
    // A busy service's batch: 5,000 records (over 300 kB, the other routes' body limit) in one request; one more is refused.
    const batch = (n: number) => ({ records: Array.from({ length: n }, (_, i) => ({ method: 'GET', route: '/bulk/{id}', status: 200, latency_ms: i % 100, code: 'VALID' })) });
    const full = await stack.rest('POST', '/v1/usage', { key: root.secret, body: batch(5_000) });
    expect(JSON.stringify(batch(5_000)).length).toBeGreaterThan(300_000);
    expect(full.status).toBe(202);
    expect(full.body).toEqual({ accepted: 5_000, rejected: 0, errors: [] });
    const over = await stack.rest('POST', '/v1/usage', { key: root.secret, body: batch(5_001) });
    expect(over.status).toBe(400);
    expect(over.body.error.field).toBe('records');
    const ro = await stack.workspace(['read-only']);
    const refused = await stack.rest('POST', '/v1/usage', { key: ro.secret, body: { records: [{ method: 'GET', route: '/a', status: 200, latency_ms: 1 }] } });
    expect(refused.status).toBe(403);
  });
});
