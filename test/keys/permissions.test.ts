import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/** A key never hands out, or gets for itself, a permission it does not hold. */
let stack: Stack;

async function keyWith(permissions: string[], id: string): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { body: { id, permissions } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.api_key;
}
const rowsOf = async () => JSON.stringify(await stack.orm.em.fork().execute(`select id, permissions, enabled, revoked_at from api_key order by pk`));

beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

describe('granting on create', () => {
  it('a write key cannot create an admin, operator or limits:approve key, nor a customer scope it lacks', async () => {
    const writer = await keyWith(['write'], 'writer');
    const before = await rowsOf();
    for (const permission of ['admin', 'operator', 'limits:approve', 'products:write', 'keys:*']) {
      const res = await stack.rest('POST', '/api-keys', { key: writer, body: { id: `esc-${permission.replace(/\W/g, '')}`, permissions: ['read-only', permission] } });
      expect(res.status, permission).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'permissions' });
      expect(res.body.error.message).toContain(`'${permission}'`);
    }
    expect(await rowsOf()).toBe(before);
    const ok = await stack.rest('POST', '/api-keys', { key: writer, body: { id: 'by-writer', permissions: ['read-only', 'keys:write'] } });
    expect(ok.status).toBe(201);
  });

  it('without permissions, a new key gets its creator’s, never operator', async () => {
    const writer = await keyWith(['write', 'products:read'], 'writer-2');
    const child = await stack.rest('POST', '/api-keys', { key: writer, body: { id: 'child-of-writer' } });
    expect(child.body.permissions).toEqual(['write', 'products:read']);
    const fromOperator = await stack.rest('POST', '/api-keys', { body: { id: 'child-of-bootstrap' } });
    expect(fromOperator.body.permissions).toEqual(['admin']);
    expect(fromOperator.body.scopes).not.toContain('operator');
  });

  it('only an operator grants operator; a workspace admin grants any customer scope', async () => {
    const admin = await keyWith(['admin'], 'plain-admin');
    const op = await stack.rest('POST', '/api-keys', { key: admin, body: { id: 'op-by-admin', permissions: ['operator'] } });
    expect(op.status).toBe(403);
    expect(op.body.error.message).toContain("'operator'");
    const customer = await stack.rest('POST', '/api-keys', { key: admin, body: { id: 'products-by-admin', permissions: ['products:write', 'orders:*'] } });
    expect(customer.status).toBe(201);
    const byOperator = await stack.rest('POST', '/api-keys', { body: { id: 'second-operator', permissions: ['operator'] } });
    expect(byOperator.status).toBe(201);
  });

  it('a key holding products:* grants products:write but not orders:read', async () => {
    const seller = await keyWith(['keys:read', 'keys:write', 'products:*'], 'seller');
    expect((await stack.rest('POST', '/api-keys', { key: seller, body: { id: 'seller-child', permissions: ['products:write'] } })).status).toBe(201);
    expect((await stack.rest('POST', '/api-keys', { key: seller, body: { id: 'seller-child-2', permissions: ['products:*'] } })).status).toBe(201);
    expect((await stack.rest('POST', '/api-keys', { key: seller, body: { id: 'seller-child-3', permissions: ['orders:read'] } })).status).toBe(403);
  });

  it('a read-only key cannot create keys at all: 403 naming keys:write', async () => {
    const reader = await keyWith(['read-only'], 'reader');
    const res = await stack.rest('POST', '/api-keys', { key: reader, body: { id: 'by-reader' } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe("This API key lacks the 'keys:write' permission");
    expect((await stack.rest('GET', '/api-keys', { key: reader })).status).toBe(200);
    expect((await stack.rest('GET', '/audit-log', { key: reader })).status).toBe(200);
  });
});

describe('changing keys', () => {
  it('a write key cannot raise its own permissions', async () => {
    const writer = await keyWith(['write'], 'self-raiser');
    const before = await rowsOf();
    const res = await stack.rest('PATCH', '/api-keys/self-raiser', { key: writer, body: { permissions: ['admin'] } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain("'admin'");
    expect(await rowsOf()).toBe(before);
    // …but may narrow them.
    const narrowed = await stack.rest('PATCH', '/api-keys/self-raiser', { key: writer, body: { permissions: ['read-only', 'keys:write'] } });
    expect(narrowed.status).toBe(200);
  });

  it('a write key cannot disable, revoke or delete a key that holds more than it does', async () => {
    const writer = await keyWith(['write'], 'junior');
    await keyWith(['admin'], 'senior');
    const before = await rowsOf();
    for (const [method, path, body] of [
      ['PATCH', '/api-keys/senior', { enabled: false }],
      ['POST', '/api-keys/senior/revoke', {}],
      ['DELETE', '/api-keys/senior', undefined],
      ['PATCH', '/api-keys/bootstrap', { rate_limits: [{ limit: 1, window_seconds: 3600 }] }],
    ] as [string, string, unknown][]) {
      const res = await stack.rest(method, path, { key: writer, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.message).toMatch(/holds '(admin|operator)'/);
    }
    expect(await rowsOf()).toBe(before);
  });

  it('tRPC applies the same rules', async () => {
    const writer = await keyWith(['write'], 'trpc-writer');
    const caller = await stack.caller(writer);
    await expect(caller.keys.create({ id: 'trpc-esc', permissions: ['admin'] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.keys.update({ id: 'trpc-writer', patch: { permissions: ['operator'] } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.keys.revoke({ id: 'bootstrap' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.workspaces.create({ id: 'nope', name: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
