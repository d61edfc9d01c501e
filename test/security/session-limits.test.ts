import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { addKey } from './keys.js';
import { cookieOf, trpcFrom } from './from-address.js';

/** A UI session is its key acting from a browser: the key's own rate limits hold for it too. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

describe('rate limits of a key signed in to the UI', () => {
  it('the call after the limit through the session cookie gets 429 TOO_MANY_REQUESTS with Retry-After', async () => {
    const ws = await stack.workspace(['admin']);
    const limit = 3;
    const key = await addKey(stack, ws.workspaceId, {
      id: 'limited',
      permissions: ['read-only'],
      rateLimits: [{ name: 'per-minute', limit, windowSeconds: 60 }],
    });
    const signedIn = await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signIn', { input: { key } });
    expect(signedIn.status).toBe(200);
    const cookie = cookieOf(signedIn);

    for (let i = 0; i < limit; i++) {
      const ok = await trpcFrom('127.0.0.1', stack.url, 'query', 'keys.list', { cookie });
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-remaining']).toBe(String(limit - 1 - i));
    }
    const refused = await trpcFrom('127.0.0.1', stack.url, 'query', 'keys.list', { cookie });
    expect(refused.status).toBe(429);
    expect(refused.body.error.data.code).toBe('TOO_MANY_REQUESTS');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    // The session and the key share one budget: the key itself is out of calls too.
    expect((await trpcFrom('127.0.0.1', stack.url, 'query', 'keys.list', { key })).status).toBe(429);
  });
});
