import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * With Temporal up but no worker polling, reads that only a workflow can answer must say so with
 * a 503 and Retry-After, promptly, rather than hang for the RPC's minute and end as a 500.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ worker: false });
});

afterAll(async () => {
  await stack?.close();
});

describe('no worker polling', () => {
  it('a running recovery’s progress is a 503 with Retry-After, not a 500', async () => {
    const created = await stack.rest('POST', '/webhooks', { body: { url: 'http://127.0.0.1:9/hook', description: 'no worker' } });
    expect(created.status).toBe(201);
    const started = await stack.rest('POST', `/webhooks/${created.body.id}/recover`, { body: { since: new Date(Date.now() - 3600_000).toISOString() } });
    expect(started.status).toBe(202);
    const progress = await stack.rest('GET', `/webhooks/${created.body.id}/recover/${started.body.id}`);
    expect(progress.status).toBe(503);
    expect(progress.headers.get('retry-after')).toBe('5');
    expect(progress.body.error.code).toBe('temporal_unavailable');
  });

  it('system.selfTest answers SERVICE_UNAVAILABLE, not INTERNAL_SERVER_ERROR', async () => {
    const caller = await stack.caller();
    const err = await caller.system.selfTest().then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('SERVICE_UNAVAILABLE');
    expect(err?.message).toMatch(/did not complete/);
  });
});
