import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startStack, type Stack } from '../harness.js';

// A write is answered once this process has heard the key changes it made (KeyVerifier.catchUp),
// and only then: a write that changes nothing the verifier caches skips that round trip
// (core/keys/change-scope.ts).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

describe('writes and the key cache', () => {
  it('a revoke over REST and a disable over tRPC wait to hear their change, and the very next request is refused', async () => {
    const caller = await stack.caller();
    const catchUp = vi.spyOn(stack.deps.verifier, 'catchUp');
    try {
      for (let round = 0; round < 4; round++) {
        const created = await stack.rest('POST', '/api-keys', { body: { id: `catch-up-${round}`, permissions: ['keys:verify'] } });
        expect(created.status).toBe(201);
        const secret = created.body.api_key as string;
        // Cached by this process before the change.
        expect((await stack.rest('POST', '/v1/keys/verify', { key: secret, body: { key: secret } })).body.code).toBe('VALID');
        catchUp.mockClear();
        if (round % 2 === 0) {
          expect((await stack.rest('POST', `/api-keys/catch-up-${round}/revoke`)).status).toBe(200);
          // A revoked key's secret is gone: unknown, as any secret never issued.
          expect((await stack.rest('POST', '/v1/keys/verify', { body: { key: secret } })).body).toMatchObject({ valid: false, code: 'NOT_FOUND' });
        } else {
          await caller.keys.update({ id: `catch-up-${round}`, patch: { enabled: false } });
          expect((await stack.rest('POST', '/v1/keys/verify', { body: { key: secret } })).body.code).toBe('DISABLED');
        }
        expect(catchUp).toHaveBeenCalledTimes(1);
      }
    } finally {
      catchUp.mockRestore();
    }
  });

  it('waits to hear a change only when the write made one: not for a published event or a new endpoint', async () => {
    const catchUp = vi.spyOn(stack.deps.verifier, 'catchUp');
    try {
      expect((await stack.rest('POST', '/events', { body: { type: 'product.generated', payload: { product_id: 'p-1', name: 'Sneaker', price_cents: 100 } } })).status).toBe(202);
      expect((await stack.rest('POST', '/webhooks', { body: { url: 'https://example.com/hook' } })).status).toBe(201);
      expect(catchUp).not.toHaveBeenCalled();
      expect((await stack.rest('PATCH', '/api-keys/bootstrap', { body: { name: 'renamed bootstrap' } })).status).toBe(200);
      expect(catchUp).toHaveBeenCalledTimes(1);
    } finally {
      catchUp.mockRestore();
    }
  });
});
