import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * Rate limits and credits bound a key that leaks or misbehaves. Only the workspace admin sets or
 * loosens them, never on its own key; any other `keys:write` key may only tighten, and a key it
 * creates is no looser than itself.
 */
let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };

// Generous enough for the test's own calls: a key's limits apply to Gatehouse's API too.
const WRITER_LIMITS = [{ name: 'per-minute', limit: 1000, window_seconds: 60 }];
const WRITER_CREDITS = { remaining: 100, refill: { amount: 100, interval: 'monthly' } };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await stack.workspace(['admin']);
});
afterAll(() => stack.close());

async function create(key: string, body: Record<string, unknown>) {
  const res = await stack.rest('POST', '/api-keys', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; api_key: string; rate_limits: unknown[]; credits: unknown };
}

const limitsOf = async () =>
  JSON.stringify(
    await stack.orm.em
      .fork()
      .execute(
        `select id, rate_limits, credits_remaining, credits_refill_amount, credits_refill_interval from api_key where workspace_id = ? order by pk`,
        [admin.workspaceId],
      ),
  );

const limited = (id: string, permissions = ['write']) =>
  create(admin.secret, { id, permissions, rate_limits: WRITER_LIMITS, credits: WRITER_CREDITS });

const LOOSER_LIMITS: [string, unknown][] = [
  ['no rate limits', []],
  ['a higher limit', [{ name: 'per-minute', limit: 1_000_000_000, window_seconds: 60 }]],
  ['1e9 per second', [{ limit: 1_000_000_000, window_seconds: 1 }]],
  ['the same limit over a shorter window', [{ name: 'per-minute', limit: 1000, window_seconds: 1 }]],
];
const LOOSER_CREDITS: [string, unknown][] = [
  ['unlimited credits', null],
  ['more credits left', { remaining: 101, refill: { amount: 100, interval: 'monthly' } }],
  ['a bigger refill', { remaining: 100, refill: { amount: 1_000_000, interval: 'monthly' } }],
  ['a daily refill', { remaining: 100, refill: { amount: 100, interval: 'daily' } }],
];

describe('a keys:write key does not loosen its own limits', () => {
  let writer: string;
  beforeAll(async () => {
    writer = (await limited('self-lifter')).api_key;
  });

  it.each(LOOSER_LIMITS)('PATCH itself to %s: 403 naming rate_limits, nothing changes', async (_, rateLimits) => {
    const before = await limitsOf();
    const res = await stack.rest('PATCH', '/api-keys/self-lifter', { key: writer, body: { rate_limits: rateLimits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'rate_limits' });
    expect(res.body.error.message).toMatch(/^rate_limits: an API key cannot loosen its own limits/);
    expect(await limitsOf()).toBe(before);
  });

  it.each(LOOSER_CREDITS)('PATCH itself to %s: 403 naming credits, nothing changes', async (_, credits) => {
    const before = await limitsOf();
    const res = await stack.rest('PATCH', '/api-keys/self-lifter', { key: writer, body: { credits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'credits' });
    expect(await limitsOf()).toBe(before);
  });

  it('tRPC keys.update refuses the same', async () => {
    const caller = await stack.caller(writer);
    await expect(caller.keys.update({ id: 'self-lifter', patch: { rateLimits: [] } })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      cause: { field: 'rate_limits' },
    });
    await expect(caller.keys.update({ id: 'self-lifter', patch: { credits: null } })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      cause: { field: 'credits' },
    });
  });

  it('but may tighten them', async () => {
    const res = await stack.rest('PATCH', '/api-keys/self-lifter', {
      key: writer,
      body: { rate_limits: [{ name: 'per-minute', limit: 500, window_seconds: 60 }], credits: { remaining: 40 } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.rate_limits).toEqual([{ name: 'per-minute', limit: 500, window_seconds: 60 }]);
    expect(res.body.credits).toMatchObject({ remaining: 40, refill: null });
    // …and cannot undo that afterwards.
    expect((await stack.rest('PATCH', '/api-keys/self-lifter', { key: writer, body: { credits: WRITER_CREDITS } })).status).toBe(403);
  });
});

describe("a keys:write key does not loosen another key's limits", () => {
  let writer: string;
  beforeAll(async () => {
    writer = (await limited('sibling-lifter')).api_key;
    await limited('sibling', ['read-only']);
  });

  it.each(LOOSER_LIMITS)('PATCH a sibling to %s: 403 naming rate_limits', async (_, rateLimits) => {
    const before = await limitsOf();
    const res = await stack.rest('PATCH', '/api-keys/sibling', { key: writer, body: { rate_limits: rateLimits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'rate_limits' });
    expect(res.body.error.message).toContain('only the workspace admin');
    expect(await limitsOf()).toBe(before);
  });

  it.each(LOOSER_CREDITS)('PATCH a sibling to %s: 403 naming credits', async (_, credits) => {
    const before = await limitsOf();
    const res = await stack.rest('PATCH', '/api-keys/sibling', { key: writer, body: { credits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.field).toBe('credits');
    expect(await limitsOf()).toBe(before);
  });

  it('may tighten a sibling it may manage', async () => {
    const res = await stack.rest('PATCH', '/api-keys/sibling', { key: writer, body: { rate_limits: [{ name: 'per-hour', limit: 10, window_seconds: 3600 }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });
});

describe('a key made by a keys:write key is no looser than its maker', () => {
  let writer: string;
  beforeAll(async () => {
    writer = (await limited('maker')).api_key;
  });

  it('POST /api-keys {} inherits the maker’s rate limits and credits', async () => {
    const clone = await create(writer, {});
    expect(clone.rate_limits).toEqual(WRITER_LIMITS);
    expect(clone.credits).toMatchObject(WRITER_CREDITS);
    // The clone cannot lift what it inherited either.
    expect((await stack.rest('PATCH', `/api-keys/${clone.id}`, { key: clone.api_key, body: { rate_limits: [] } })).status).toBe(403);
  });

  it.each(LOOSER_LIMITS)('POST /api-keys with %s: 403 naming rate_limits, no key made', async (_, rateLimits) => {
    const before = await limitsOf();
    const res = await stack.rest('POST', '/api-keys', { key: writer, body: { id: 'looser-child', rate_limits: rateLimits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'rate_limits' });
    expect(await limitsOf()).toBe(before);
  });

  it.each(LOOSER_CREDITS)('POST /api-keys with %s: 403 naming credits, no key made', async (_, credits) => {
    const before = await limitsOf();
    const res = await stack.rest('POST', '/api-keys', { key: writer, body: { id: 'looser-child', credits } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.field).toBe('credits');
    expect(await limitsOf()).toBe(before);
  });

  it('tRPC keys.create inherits and refuses alike', async () => {
    const caller = await stack.caller(writer);
    const clone = await caller.keys.create({});
    expect(clone.rateLimits).toEqual([{ name: 'per-minute', limit: 1000, windowSeconds: 60 }]);
    expect(clone.credits).toMatchObject({ remaining: 100 });
    await expect(caller.keys.create({ rateLimits: [] })).rejects.toMatchObject({ code: 'FORBIDDEN', cause: { field: 'rate_limits' } });
    await expect(caller.keys.create({ credits: null })).rejects.toMatchObject({ code: 'FORBIDDEN', cause: { field: 'credits' } });
  });

  it('a tighter child is fine', async () => {
    const child = await create(writer, { rate_limits: [{ limit: 1, window_seconds: 3600 }], credits: { remaining: 3 } });
    expect(child.rate_limits).toEqual([{ name: '3600s', limit: 1, window_seconds: 3600 }]);
  });
});

describe('the workspace admin', () => {
  it('loosens and sets the limits of other keys, and creates keys with any limits', async () => {
    await limited('freed');
    const res = await stack.rest('PATCH', '/api-keys/freed', { key: admin.secret, body: { rate_limits: [], credits: null } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ rate_limits: [], credits: null });
    await create(admin.secret, { rate_limits: [{ limit: 1_000_000_000, window_seconds: 1 }] });
  });

  it('does not loosen its own limits; another admin key can', async () => {
    const second = await create(admin.secret, { id: 'second-admin', permissions: ['admin'] });
    const tightened = await stack.rest('PATCH', `/api-keys/${admin.keyId}`, { key: second.api_key, body: { rate_limits: WRITER_LIMITS } });
    expect(tightened.status).toBe(200);
    const own = await stack.rest('PATCH', `/api-keys/${admin.keyId}`, { key: admin.secret, body: { rate_limits: [] } });
    expect(own.status, JSON.stringify(own.body)).toBe(403);
    expect(own.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'rate_limits' });
    const byOther = await stack.rest('PATCH', `/api-keys/${admin.keyId}`, { key: second.api_key, body: { rate_limits: [] } });
    expect(byOther.status).toBe(200);
  });
});
