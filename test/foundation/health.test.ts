import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { checkHealth } from '../../server/health.js';
import { createApp } from '../../server/app.js';
import { connectTemporal } from '../../temporal/client.js';
import { createOrm } from '../../db/orm.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

describe('GET /healthz', () => {
  it('answers 200 with every dependency ok', async () => {
    const res = await stack.rest('GET', '/healthz', { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', postgres: 'ok', temporal: 'ok' });
  });

  it('names Temporal when Temporal cannot be reached', async () => {
    const temporal = await connectTemporal(stack.config.TEMPORAL_ADDRESS!, 'default', 'q');
    await temporal.connection.close();
    const health = await checkHealth({ ...stack.deps, temporal });
    expect(health.status).toBe('degraded');
    expect(health.postgres).toBe('ok');
    expect(health.temporal).toMatch(/^error: /);
  });

  it('answers 503 over HTTP, naming the dependency that failed', async () => {
    const temporal = await connectTemporal(stack.config.TEMPORAL_ADDRESS!, 'default', 'q');
    await temporal.connection.close();
    const server = createApp({ ...stack.deps, temporal }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; postgres: string; temporal: string };
      expect(body).toMatchObject({ status: 'degraded', postgres: 'ok' });
      expect(body.temporal).toMatch(/^error: /);
    } finally {
      server.close();
    }
  });

  it('names PostgreSQL when PostgreSQL cannot be reached', async () => {
    const orm = await createOrm('postgres://postgres@127.0.0.1:1/none', { pool: { min: 0, max: 1 } });
    const health = await checkHealth({ ...stack.deps, orm });
    expect(health).toMatchObject({ status: 'degraded', temporal: 'ok' });
    expect(health.postgres).toMatch(/^error: /);
    await orm.close();
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await stack.rest('GET', '/no/such/route', { key: null });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('serves an OpenAPI 3.1 document', async () => {
    const res = await stack.rest('GET', '/openapi.json', { key: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.paths['/healthz'].get.responses['200']).toBeDefined();
  });
});
