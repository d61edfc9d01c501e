import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyVerifier } from '../../core/keys/verifier.js';
import { createApp } from '../../server/app.js';
import type { ServerDeps } from '../../server/context.js';
import { startDraining } from '../../server/health.js';
import { connectTemporal } from '../../temporal/client.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

/** An app of its own on a free port, answering /readyz with `deps`. */
async function serve(deps: ServerDeps) {
  const app = createApp(deps);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const readyz = async () => {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { app, readyz, close: () => new Promise((r) => server.close(r)) };
}

describe('GET /readyz', () => {
  it('answers 200 once PostgreSQL, Temporal and the key cache are ready', async () => {
    const res = await fetch(`${stack.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', postgres: 'ok', temporal: 'ok', key_cache: 'ok', draining: false });
  });

  it('answers 503 from the moment shutdown begins, while /healthz (liveness) still answers 200', async () => {
    const s = await serve(stack.deps);
    try {
      expect((await s.readyz()).status).toBe(200);
      startDraining(s.app);
      const r = await s.readyz();
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'not_ready', draining: true });
      expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('answers 503 naming the key cache until its change listener is connected', async () => {
    // A verifier not started yet: its LISTEN connection, which keeps the cache honest, is not up.
    const verifier = new KeyVerifier({ databaseUrl: stack.databaseUrl, log: stack.deps.log });
    const s = await serve({ ...stack.deps, verifier });
    try {
      const r = await s.readyz();
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'not_ready', postgres: 'ok', temporal: 'ok', draining: false });
      expect(r.body['key_cache']).toMatch(/^not ready/);
      await verifier.start();
      expect((await s.readyz()).status).toBe(200);
    } finally {
      await s.close();
      await verifier.stop();
    }
  });

  it('answers 503 naming Temporal when Temporal cannot be reached', async () => {
    const temporal = await connectTemporal(stack.config.TEMPORAL_ADDRESS!, 'default', 'q');
    await temporal.connection.close();
    const s = await serve({ ...stack.deps, temporal });
    try {
      const r = await s.readyz();
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'not_ready', postgres: 'ok', key_cache: 'ok' });
      expect(r.body['temporal']).toMatch(/^error: /);
    } finally {
      await s.close();
    }
  });
});
