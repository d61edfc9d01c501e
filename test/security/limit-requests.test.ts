import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * A limit increase request is decided by a key other than the one that filed it, which may manage
 * the target key, and an approval never loosens limits beyond what its decider could set directly.
 */
let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };
let narrow: string;
let narrow2: string;
let secondAdmin: string;

const NARROW = ['usage:read', 'usage:write', 'limits:approve'];

async function create(body: Record<string, unknown>, key = admin.secret): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.api_key as string;
}

async function ask(key: string, target: string, body: Record<string, unknown>): Promise<string> {
  const res = await stack.rest('POST', `/api-keys/${target}/limit-requests`, { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const stateOf = async () =>
  JSON.stringify(
    await stack.orm.em
      .fork()
      .execute(
        `select (select json_agg(json_build_object('id', id, 'rate_limits', rate_limits) order by pk) from api_key where workspace_id = ?) as keys,
                (select json_agg(json_build_object('id', id, 'status', status) order by id) from limit_request where workspace_id = ?) as requests`,
        [admin.workspaceId, admin.workspaceId],
      ),
  );

beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await stack.workspace(['admin']);
  narrow = await create({ id: 'narrow', permissions: NARROW });
  narrow2 = await create({ id: 'narrow-2', permissions: NARROW });
  secondAdmin = await create({ id: 'second-admin', permissions: ['admin'] });
  await create({ id: 'worker', permissions: ['usage:read'], rate_limits: [{ name: 'per-minute', limit: 10, window_seconds: 60 }] });
});
afterAll(() => stack.close());

describe('never decided by the key that filed it', () => {
  it('a narrow key cannot set the admin key to 1/hour by filing and approving its own request', async () => {
    const id = await ask(narrow, admin.keyId, { limit_name: 'per-hour', requested_limit: 1, window_seconds: 3600 });
    const before = await stateOf();
    const res = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: narrow });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.code).toBe('insufficient_permissions');
    expect(await stateOf()).toBe(before);
    const caller = await stack.caller(narrow);
    await expect(caller.usage.approveLimitRequest({ id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await stateOf()).toBe(before);
    expect((await stack.rest('POST', `/limit-requests/${id}/decline`, { key: secondAdmin })).status).toBe(200);
  });

  it('not even on a key it may manage, nor to decline', async () => {
    const id = await ask(narrow, 'worker', { limit_name: 'per-minute', requested_limit: 5 });
    const before = await stateOf();
    for (const decision of ['approve', 'decline']) {
      const res = await stack.rest('POST', `/limit-requests/${id}/${decision}`, { key: narrow });
      expect(res.status, `${decision}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.error.message).toContain('filed by this API key');
    }
    expect(await stateOf()).toBe(before);
    // Another key that may manage `worker` decides it.
    const approved = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: narrow2 });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: 'narrow-2' });
  });

  it('the admin does not approve its own request either', async () => {
    const id = await ask(admin.secret, 'worker', { limit_name: 'per-minute', requested_limit: 50 });
    expect((await stack.rest('POST', `/limit-requests/${id}/approve`, { key: admin.secret })).status).toBe(403);
    expect((await stack.rest('POST', `/limit-requests/${id}/approve`, { key: secondAdmin })).status).toBe(200);
  });
});

describe('the decider may manage the key', () => {
  it('a narrow key cannot decide a request on the admin key filed by another', async () => {
    const id = await ask(narrow2, admin.keyId, { limit_name: 'per-hour', requested_limit: 1, window_seconds: 3600 });
    const before = await stateOf();
    for (const decision of ['approve', 'decline']) {
      const res = await stack.rest('POST', `/limit-requests/${id}/${decision}`, { key: narrow });
      expect(res.status, `${decision}: ${JSON.stringify(res.body)}`).toBe(403);
      expect(res.body.error.message).toContain("holds 'admin'");
    }
    expect(await stateOf()).toBe(before);
    const caller = await stack.caller(narrow);
    await expect(caller.usage.declineLimitRequest({ id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await stack.rest('POST', `/limit-requests/${id}/decline`, { key: secondAdmin })).status).toBe(200);
  });
});

describe('an approval loosens no more than its decider could directly', () => {
  it('a non-admin approver may approve a tighter limit but not a looser one', async () => {
    const up = await ask(narrow2, 'worker', { limit_name: 'per-minute', requested_limit: 1_000_000 });
    const before = await stateOf();
    const res = await stack.rest('POST', `/limit-requests/${up}/approve`, { key: narrow });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'rate_limits' });
    expect(res.body.error.message).toContain('only the workspace admin');
    expect(await stateOf()).toBe(before);
    expect((await stack.rest('POST', `/limit-requests/${up}/decline`, { key: narrow })).status).toBe(200);

    const down = await ask(narrow2, 'worker', { limit_name: 'per-minute', requested_limit: 2 });
    const approved = await stack.rest('POST', `/limit-requests/${down}/approve`, { key: narrow });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const key = await stack.rest('GET', '/api-keys/worker', { key: admin.secret });
    expect(key.body.rate_limits).toEqual([{ name: 'per-minute', limit: 2, window_seconds: 60 }]);
  });

  it("the admin does not approve a raise of its own key's limit; another admin does", async () => {
    const set = await stack.rest('PATCH', `/api-keys/${admin.keyId}`, {
      key: secondAdmin,
      body: { rate_limits: [{ name: 'per-minute', limit: 1000, window_seconds: 60 }] },
    });
    expect(set.status).toBe(200);
    const id = await ask(narrow, admin.keyId, { limit_name: 'per-minute', requested_limit: 5000 });
    const own = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: admin.secret });
    expect(own.status, JSON.stringify(own.body)).toBe(403);
    expect(own.body.error.message).toContain('cannot loosen its own limits');
    const other = await stack.rest('POST', `/limit-requests/${id}/approve`, { key: secondAdmin });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expect((await stack.rest('GET', `/api-keys/${admin.keyId}`, { key: secondAdmin })).body.rate_limits).toEqual([
      { name: 'per-minute', limit: 5000, window_seconds: 60 },
    ]);
  });
});
