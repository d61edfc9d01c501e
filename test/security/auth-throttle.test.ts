import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { MAX_TRPC_BATCH } from '../../server/app.js';
import { addressBucket, AuthThrottle, FAILURE_WINDOW_MS, MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_PREFIX } from '../../server/auth/throttle.js';
import { requestFrom, trpcFrom } from './from-address.js';
import { addKey } from './keys.js';

/**
 * Failed authentication is throttled per client address (and, for guesses spread over many
 * addresses, per key prefix), on REST and tRPC x-api-key and on UI sign-in; a tRPC batch is
 * capped. Each case uses its own loopback address, so the cases do not throttle each other.
 */
let stack: Stack;
let ws: { workspaceId: string; secret: string };
beforeAll(async () => {
  stack = await startStack({ worker: false });
  ws = await stack.workspace(['admin']);
});
afterAll(() => stack.close());

const wrongKey = (prefix = 'gate') => `${prefix}_sk_live_${randomBytes(21).toString('base64url').slice(0, 28)}`;

function expectRetryAfter(reply: { headers: Record<string, unknown> }) {
  const seconds = Number(reply.headers['retry-after']);
  expect(seconds).toBeGreaterThan(0);
  expect(seconds).toBeLessThanOrEqual(FAILURE_WINDOW_MS / 1000);
}

describe('tRPC batches', () => {
  it(`refuses a batch of more than ${MAX_TRPC_BATCH} calls with 400, before running any`, async () => {
    const calls = 300;
    const paths = Array<string>(calls).fill('session.signIn').join(',');
    const input = Object.fromEntries(Array.from({ length: calls }, (_, i) => [String(i), { key: wrongKey() }]));
    const res = await requestFrom('127.0.0.2', `${stack.url}/trpc/${paths}?batch=1`, {
      method: 'POST',
      headers: { 'x-gatehouse-csrf': '1' },
      body: input,
    });
    expect(res.status).toBe(400);
    // Nothing ran, so nothing counted against the address: a sign-in from it still works.
    const after = await trpcFrom('127.0.0.2', stack.url, 'mutation', 'session.signIn', { input: { key: ws.secret } });
    expect(after.status).toBe(200);

    const over = Array<string>(MAX_TRPC_BATCH + 1).fill('system.whoami').join(',');
    expect((await requestFrom('127.0.0.2', `${stack.url}/trpc/${over}?batch=1`, { headers: { 'x-api-key': ws.secret } })).status).toBe(400);
    const atCap = Array<string>(MAX_TRPC_BATCH).fill('system.whoami').join(',');
    const ok = await requestFrom('127.0.0.2', `${stack.url}/trpc/${atCap}?batch=1`, { headers: { 'x-api-key': ws.secret } });
    expect(ok.status).toBe(200);
    expect(ok.body).toHaveLength(MAX_TRPC_BATCH);
  });
});

describe('failed authentication per client address', () => {
  it('after repeated bad keys on REST, the address gets 429 with Retry-After, even with a valid key; another address is unaffected', async () => {
    const attacker = '127.0.0.3';
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) {
      expect((await requestFrom(attacker, `${stack.url}/api-keys`, { headers: { 'x-api-key': wrongKey() } })).status).toBe(401);
    }
    const throttled = await requestFrom(attacker, `${stack.url}/api-keys`, { headers: { 'x-api-key': wrongKey() } });
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('too_many_attempts');
    expectRetryAfter(throttled);

    // A right guess must look no different from a wrong one until the window has passed.
    const validRest = await requestFrom(attacker, `${stack.url}/api-keys`, { headers: { 'x-api-key': ws.secret } });
    expect(validRest.status).toBe(429);
    const validTrpc = await trpcFrom(attacker, stack.url, 'query', 'system.whoami', { key: ws.secret });
    expect(validTrpc.status).toBe(429);
    expect(validTrpc.body.error.data.code).toBe('TOO_MANY_REQUESTS');
    expectRetryAfter(validTrpc);
    const signIn = await trpcFrom(attacker, stack.url, 'mutation', 'session.signIn', { input: { key: ws.secret } });
    expect(signIn.status).toBe(429);
    expectRetryAfter(signIn);
    expect(signIn.headers['set-cookie']).toBeUndefined();

    const bystander = await requestFrom('127.0.0.4', `${stack.url}/api-keys`, { headers: { 'x-api-key': ws.secret } });
    expect(bystander.status).toBe(200);
  });

  it('failed sign-ins are throttled the same way', async () => {
    const attacker = '127.0.0.5';
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) {
      expect((await trpcFrom(attacker, stack.url, 'mutation', 'session.signIn', { input: { key: wrongKey() } })).status).toBe(401);
    }
    const throttled = await trpcFrom(attacker, stack.url, 'mutation', 'session.signIn', { input: { key: ws.secret } });
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.data.code).toBe('TOO_MANY_REQUESTS');
    expectRetryAfter(throttled);
    expect((await requestFrom(attacker, `${stack.url}/api-keys`, { headers: { 'x-api-key': ws.secret } })).status).toBe(429);

    expect((await trpcFrom('127.0.0.6', stack.url, 'mutation', 'session.signIn', { input: { key: ws.secret } })).status).toBe(200);
  });

  it('bad keys on tRPC count like bad keys on REST', async () => {
    const attacker = '127.0.0.7';
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) {
      expect((await trpcFrom(attacker, stack.url, 'query', 'system.whoami', { key: wrongKey() })).status).toBe(401);
    }
    expect((await requestFrom(attacker, `${stack.url}/api-keys`, { headers: { 'x-api-key': ws.secret } })).status).toBe(429);
  });
});

describe('failed authentication per key prefix', () => {
  it('guesses spread over many addresses get those addresses refused, while clean addresses keep working', async () => {
    // A prefix no other case here guesses at, so this case starts from a clean count.
    const key = await addKey(stack, ws.workspaceId, { id: 'acme-key', permissions: ['read-only'], prefix: 'acme' });
    const addresses = Array.from({ length: 10 }, (_, i) => `127.0.1.${i + 1}`);
    const perAddress = MAX_FAILURES_PER_PREFIX / addresses.length;
    expect(perAddress).toBeLessThan(MAX_FAILURES_PER_ADDRESS);
    for (const from of addresses) {
      for (let i = 0; i < perAddress; i++) {
        expect((await requestFrom(from, `${stack.url}/api-keys`, { headers: { 'x-api-key': wrongKey('acme') } })).status).toBe(401);
      }
    }
    // Under its own limit, but a guesser on a prefix under attack: even a right guess is refused.
    const guesser = await requestFrom(addresses[0]!, `${stack.url}/api-keys`, { headers: { 'x-api-key': key } });
    expect(guesser.status).toBe(429);
    expectRetryAfter(guesser);
    // The key's owner, calling from an address that never failed, is not locked out.
    expect((await requestFrom('127.0.1.200', `${stack.url}/api-keys`, { headers: { 'x-api-key': key } })).status).toBe(200);
    // Keys of other prefixes are not touched by it, from the guessing addresses either.
    expect((await requestFrom(addresses[1]!, `${stack.url}/api-keys`, { headers: { 'x-api-key': ws.secret } })).status).toBe(200);
  });
});

describe('the window', () => {
  it('an address may try again once its failures are older than the window', () => {
    const throttle = new AuthThrottle();
    const t0 = 1_000_000;
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) throttle.fail('192.0.2.1', 'nope', t0 + i);
    expect(throttle.retryAfter('192.0.2.1', 'nope', t0 + 10)).toBe(FAILURE_WINDOW_MS / 1000);
    expect(throttle.retryAfter('192.0.2.2', 'nope', t0 + 10)).toBe(0);
    expect(throttle.retryAfter('192.0.2.1', 'nope', t0 + FAILURE_WINDOW_MS + 1)).toBe(0);
  });

  it('counts IPv6 clients by their /64, so hopping addresses inside it does not help', () => {
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe(addressBucket('2001:db8:1:2::9'));
    expect(addressBucket('2001:db8:1:2::9')).not.toBe(addressBucket('2001:db8:1:3::9'));
    expect(addressBucket('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1');
    expect(addressBucket('192.0.2.1')).toBe('192.0.2.1');
  });
});
