import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { startStack, type Stack } from '../harness.js';
import { changeKey, creditsOf, insertKey } from './keys.js';

let stack: Stack;
let a: ApiProcess;
let b: ApiProcess;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  [a, b] = await Promise.all([startApi(stack), startApi(stack)]);
}, 180_000);
afterAll(async () => {
  await Promise.all([stopApi(a), stopApi(b)]);
  await stack?.close();
});

async function verifyOn(api: ApiProcess, body: Record<string, unknown>) {
  const res = await fetch(`${api.url}/v1/keys/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { code: string; valid: boolean };
}

/** `total` verifications of `secret` on `api`, `concurrency` at a time. */
async function hammer(api: ApiProcess, secret: string, total: number, concurrency: number): Promise<string[]> {
  const codes: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        codes.push((await verifyOn(api, { key: secret })).code);
      }
    }),
  );
  return codes;
}

describe('two API processes sharing PostgreSQL', () => {
  it('admit at most 1 % over a rate limit between them', async () => {
    const key = await insertKey(stack, { rateLimits: [{ name: 'per-hour', limit: 200, windowSeconds: 3600 }] });
    const [onA, onB] = await Promise.all([hammer(a, key.secret, 300, 40), hammer(b, key.secret, 300, 40)]);
    const valid = [...onA, ...onB].filter((c) => c === 'VALID').length;
    expect(valid).toBeLessThanOrEqual(202);
    expect(valid).toBeGreaterThanOrEqual(200);
    // Both processes really took part.
    expect(onA.filter((c) => c === 'VALID').length).toBeGreaterThan(0);
    expect(onB.filter((c) => c === 'VALID').length).toBeGreaterThan(0);
    expect([...onA, ...onB].filter((c) => c === 'RATE_LIMITED')).toHaveLength(600 - valid);
  });

  it('never charge credits below zero between them', async () => {
    const key = await insertKey(stack, { credits: 50 });
    const [onA, onB] = await Promise.all([hammer(a, key.secret, 60, 20), hammer(b, key.secret, 60, 20)]);
    expect([...onA, ...onB].filter((c) => c === 'VALID')).toHaveLength(50);
    expect(await creditsOf(stack, key.pk)).toBe(0);
  });

  it('both see a revoke and an update from the change notification, though both had the key cached', async () => {
    const key = await insertKey(stack, { permissions: ['products:write'] });
    for (const api of [a, b]) {
      for (let i = 0; i < 3; i++) expect((await verifyOn(api, { key: key.secret, permission: 'products:write' })).code).toBe('VALID');
    }
    await changeKey(stack, key.pk, `permissions = '["products:read"]'::jsonb`);
    for (const api of [a, b]) {
      await eventually(api, { key: key.secret, permission: 'products:write' }, 'INSUFFICIENT_PERMISSIONS');
    }
    await changeKey(stack, key.pk, 'revoked_at = now()');
    await Promise.all([a, b].map((api) => eventually(api, { key: key.secret }, 'NOT_FOUND')));
  });
});

/**
 * Polls until the process answers `want`, or fails after 10 s: far inside the cache's 5-minute TTL,
 * so only the change notification can explain the new answer (a wall-clock bound would measure the machine).
 */
async function eventually(api: ApiProcess, body: Record<string, unknown>, want: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    if ((last = (await verifyOn(api, body)).code) === want) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`still ${last}, not ${want}, after 10 s`);
}
