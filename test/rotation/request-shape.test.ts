import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('rotate: what callers send', () => {
  it('rotates a key whose id has accents, as the seed suggests (api-key-integración-crm)', async () => {
    const created = await stack.rest('POST', '/api-keys', { body: { id: 'api-key-integración-crm' } });
    expect(created.status).toBe(201);
    const rotated = await stack.rest('POST', `/api-keys/${encodeURIComponent('api-key-integración-crm')}/rotate`, {
      body: { grace_period_seconds: 60 },
    });
    expect(rotated.status).toBe(201);
    expect(rotated.body.api_key).toMatch(/^gate_sk_live_/);
  });

  it('needs no body for the default grace period', async () => {
    await stack.rest('POST', '/api-keys', { body: { id: 'no-body' } });
    const rotated = await stack.rest('POST', '/api-keys/no-body/rotate');
    expect(rotated.status).toBe(201);
    const hours = (Date.parse(rotated.body.previous_key_expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
  });

  it('refuses a body sent without Content-Type: application/json instead of ignoring it', async () => {
    await stack.rest('POST', '/api-keys', { body: { id: 'form-body' } });
    const res = await stack.rest('POST', '/api-keys/form-body/rotate', {
      body: 'grace_period_seconds=0',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^body: /);
  });
});
