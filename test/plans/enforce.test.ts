import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { failure } from './failure.js';

/**
 * A workspace's plan at key and endpoint create/edit: ceilings and credits are 400s naming the
 * field and the plan, counts and scopes 403 `plan_limit`; nothing is written when refused.
 */
let stack: Stack;
let admin: string;
const WS = 'shop';

beforeAll(async () => {
  stack = await startStack({ worker: false });
  const plan = await stack.rest('POST', '/plans', {
    body: {
      id: 'free',
      name: 'Free',
      key_rate_limits: [{ limit: 100, window_seconds: 60 }],
      monthly_credits: 1000,
      max_keys: 3,
      max_webhook_endpoints: 1,
      grantable_scopes: ['products:read', 'orders:*'],
    },
  });
  expect(plan.status).toBe(201);
  const ws = await stack.rest('POST', '/workspaces', { body: { id: WS, name: 'Shop' } });
  admin = ws.body.admin_key.api_key;
  expect((await stack.rest('PATCH', `/workspaces/${WS}`, { body: { plan: 'free' } })).status).toBe(200);
});
afterAll(() => stack.close());

const keyRows = async () => JSON.stringify(await stack.orm.em.fork().execute(`select * from api_key where workspace_id = ? order by pk`, [WS]));
const endpointRows = async () => JSON.stringify(await stack.orm.em.fork().execute(`select * from webhook_endpoint where workspace_id = ? order by id`, [WS]));
const createKey = (body: unknown) => stack.rest('POST', '/api-keys', { key: admin, body });

describe('rate-limit ceilings', () => {
  it('a key above the ceiling is a 400 naming the field, the limit and the plan; at or below it is fine', async () => {
    const before = await keyRows();
    const res = await createKey({ id: 'fast', rate_limits: [{ limit: 50, window_seconds: 60 }, { limit: 5000, window_seconds: 60, name: 'burst' }] });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_input', field: 'rate_limits[1]' });
    expect(res.body.error.message).toMatch(/^rate_limits\[1\]: 5000 per 60 s is above plan 'free''s ceiling of 100 per 60 s/);
    // More calls in a shorter window than the ceiling allows in its whole window. (10 a second is
    // allowed: it does not contradict the ceiling, and verification holds the key to both.)
    const perSecond = await createKey({ id: 'fast', rate_limits: [{ limit: 200, window_seconds: 1 }] });
    expect(perSecond.status).toBe(400);
    expect(perSecond.body.error.field).toBe('rate_limits[0]');
    expect(await keyRows()).toBe(before);

    const ok = await createKey({ id: 'slow', rate_limits: [{ limit: 100, window_seconds: 60 }, { limit: 1000, window_seconds: 3600 }], permissions: ['read-only'] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('editing a key above the ceiling is refused the same way, over REST and tRPC', async () => {
    const before = await keyRows();
    const res = await stack.rest('PATCH', '/api-keys/slow', { key: admin, body: { rate_limits: [{ limit: 101, window_seconds: 60 }] } });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('rate_limits[0]');
    const caller = await stack.caller(admin);
    expect(await failure(caller.keys.update({ id: 'slow', patch: { rateLimits: [{ limit: 101, windowSeconds: 60 }] } }))).toEqual({ code: 'BAD_REQUEST', field: 'rateLimits[0]' });
    expect(await failure(caller.keys.create({ id: 'fast', rateLimits: [{ limit: 500, windowSeconds: 60 }] }))).toEqual({ code: 'BAD_REQUEST', field: 'rateLimits[0]' });
    expect(await keyRows()).toBe(before);
  });
});

describe('credits above the monthly credit grant', () => {
  it('a balance or refill above the grant is a 400 naming which', async () => {
    const before = await keyRows();
    const balance = await createKey({ id: 'rich', credits: { remaining: 1001 } });
    expect(balance.status).toBe(400);
    expect(balance.body.error).toMatchObject({ code: 'invalid_input', field: 'credits.remaining' });
    expect(balance.body.error.message).toContain("plan 'free'");
    const refill = await stack.rest('PATCH', '/api-keys/slow', { key: admin, body: { credits: { remaining: 10, refill: { amount: 5000, interval: 'monthly' } } } });
    expect(refill.status).toBe(400);
    expect(refill.body.error.field).toBe('credits.refill.amount');
    expect(await keyRows()).toBe(before);
  });
});

describe('grantable scopes', () => {
  it('a customer scope outside the plan is a 403 plan_limit naming it and the plan; wildcards must be listed themselves', async () => {
    const before = await keyRows();
    for (const scope of ['billing:read', 'products:*', 'products:write']) {
      const res = await createKey({ id: 'scoped', permissions: ['read-only', scope] });
      expect(res.status, scope).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'plan_limit', field: 'permissions' });
      expect(res.body.error.message).toContain(`'${scope}'`);
      expect(res.body.error.message).toContain("plan 'free'");
    }
    const caller = await stack.caller(admin);
    expect(await failure(caller.keys.update({ id: 'slow', patch: { permissions: ['billing:read'] } }))).toEqual({ code: 'FORBIDDEN', field: 'permissions' });
    expect(await keyRows()).toBe(before);
  });
});

describe('max keys', () => {
  it('one key over the plan is a 403 plan_limit naming max_keys; a revoked key no longer counts', async () => {
    // admin and slow: the third is the last.
    const third = await createKey({ id: 'third', permissions: ['orders:read', 'products:read'] });
    expect(third.status, JSON.stringify(third.body)).toBe(201);
    const before = await keyRows();
    const fourth = await createKey({ id: 'fourth', permissions: ['read-only'] });
    expect(fourth.status).toBe(403);
    expect(fourth.body.error).toMatchObject({ code: 'plan_limit', field: 'max_keys' });
    expect(fourth.body.error.message).toMatch(/^max_keys: plan 'free' allows 3 API keys/);
    const caller = await stack.caller(admin);
    expect(await failure(caller.keys.create({ id: 'fourth', permissions: ['read-only'] }))).toEqual({ code: 'FORBIDDEN', field: 'max_keys' });
    expect(await keyRows()).toBe(before);

    expect((await stack.rest('POST', '/api-keys/third/revoke', { key: admin })).status).toBe(200);
    expect((await createKey({ id: 'fourth', permissions: ['read-only'] })).status).toBe(201);
  });

  it('concurrent creates at the limit: exactly the room left is used', async () => {
    // Room for two more keys (5 allowed, 3 live), five asked for at once.
    expect((await stack.rest('PATCH', `/workspaces/${WS}`, { body: { overrides: { max_keys: 5 } } })).status).toBe(200);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => createKey({ id: `race-${i}`, permissions: ['read-only'] })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403, 403, 403]);
    const live = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from api_key where workspace_id = ? and revoked_at is null`, [WS]);
    expect(Number(live[0]!.n)).toBe(5);
  });

  it('an override lifts the limit (null = unlimited)', async () => {
    expect((await stack.rest('PATCH', `/workspaces/${WS}`, { body: { overrides: { max_keys: null } } })).status).toBe(200);
    expect((await createKey({ id: 'unlimited', permissions: ['read-only'] })).status).toBe(201);
  });
});

describe('max webhook endpoints', () => {
  it('one endpoint over the plan is a 403 plan_limit naming max_webhook_endpoints', async () => {
    const first = await stack.rest('POST', '/webhooks', { key: admin, body: { url: 'https://93.184.215.14/hook-1' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const before = await endpointRows();
    const second = await stack.rest('POST', '/webhooks', { key: admin, body: { url: 'https://93.184.215.14/hook-2' } });
    expect(second.status).toBe(403);
    expect(second.body.error).toMatchObject({ code: 'plan_limit', field: 'max_webhook_endpoints' });
    expect(second.body.error.message).toContain("plan 'free'");
    const caller = await stack.caller(admin);
    expect(await failure(caller.webhooks.create({ url: 'https://93.184.215.14/hook-3' }))).toEqual({ code: 'FORBIDDEN', field: 'max_webhook_endpoints' });
    expect(await endpointRows()).toBe(before);
  });
});

describe('concurrent endpoint creates at the plan limit', () => {
  it('exactly the room left is used', async () => {
    // One endpoint exists; room for two more.
    expect((await stack.rest('PATCH', `/workspaces/${WS}`, { body: { overrides: { max_webhook_endpoints: 3 } } })).status).toBe(200);
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => stack.rest('POST', '/webhooks', { key: admin, body: { url: `https://93.184.215.14/race-${i}` } })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403, 403, 403]);
    const n = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from webhook_endpoint where workspace_id = ?`, [WS]);
    expect(Number(n[0]!.n)).toBe(3);
  });
});

describe('a workspace without a plan', () => {
  it('is held to nothing beyond the key rules', async () => {
    expect((await stack.rest('PATCH', `/workspaces/${WS}`, { body: { plan: null, overrides: {} } })).status).toBe(200);
    expect((await createKey({ id: 'free-again', rate_limits: [{ limit: 100_000, window_seconds: 1 }], permissions: ['billing:read'] })).status).toBe(201);
    expect((await stack.rest('POST', '/webhooks', { key: admin, body: { url: 'https://93.184.215.14/hook-4' } })).status).toBe(201);
  });
});
