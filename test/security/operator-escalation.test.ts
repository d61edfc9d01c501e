import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasScope } from '../../core/permissions.js';
import { startStack, type Stack } from '../harness.js';

/**
 * `operator` reaches every workspace. A workspace admin must not be able to give itself, or any key
 * it makes, that reach: no spelling or wildcard of `operator` is accepted, and none confers it.
 */
let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };

beforeAll(async () => {
  stack = await startStack({ worker: false });
  admin = await stack.workspace(['admin']);
});
afterAll(() => stack.close());

const SPELLINGS = [
  'operator:*',
  'operator:read',
  'operator:write',
  'operator:admin',
  'Operator',
  'OPERATOR',
  'Operator:*',
  'OPERATOR:*',
  'operator:',
  ' operator',
  'operator ',
  'ｏｐｅｒａｔｏｒ',
  '*',
  '*:*',
  '*:operator',
];

const keyRows = async () =>
  JSON.stringify(await stack.orm.em.fork().execute(`select workspace_id, id, permissions from api_key order by pk`));
const workspaceRows = async () => JSON.stringify(await stack.orm.em.fork().execute(`select id from workspace order by id`));

async function expectNoOperatorReach(secret: string) {
  expect((await stack.rest('GET', '/workspaces', { key: secret })).status).toBe(403);
  expect((await stack.rest('POST', '/workspaces', { key: secret, body: { id: 'taken-over', name: 'x' } })).status).toBe(403);
  const caller = await stack.caller(secret);
  await expect(caller.workspaces.list()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  await expect(caller.workspaces.create({ id: 'taken-over-2', name: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
}

describe('a workspace admin cannot grant itself operator', () => {
  it.each(SPELLINGS)('POST /api-keys with %j is a 400 naming permissions', async (spelling) => {
    const before = await keyRows();
    const res = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: 'escalated', permissions: ['admin', spelling] } });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.field).toMatch(/^permissions/);
    expect(res.body.error.message).toMatch(/^permissions/);
    expect(await keyRows()).toBe(before);
  });

  it.each(SPELLINGS)('tRPC keys.create with %j is refused', async (spelling) => {
    const caller = await stack.caller(admin.secret);
    await expect(caller.keys.create({ id: 'escalated', permissions: ['admin', spelling] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it.each(SPELLINGS)('PATCH of its own key or another with %j is a 400 naming permissions', async (spelling) => {
    const sibling = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: `sibling-${SPELLINGS.indexOf(spelling)}`, permissions: ['read-only'] } });
    expect(sibling.status).toBe(201);
    const before = await keyRows();
    for (const target of [admin.keyId, sibling.body.id as string]) {
      const res = await stack.rest('PATCH', `/api-keys/${target}`, { key: admin.secret, body: { permissions: ['admin', spelling] } });
      expect(res.status, `${target}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.error.field).toMatch(/^permissions/);
      const caller = await stack.caller(admin.secret);
      await expect(caller.keys.update({ id: target, patch: { permissions: ['admin', spelling] } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(await keyRows()).toBe(before);
  });

  it('the exact scope is granted by an operator only', async () => {
    const byAdmin = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: 'op-by-admin', permissions: ['operator'] } });
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error).toMatchObject({ code: 'insufficient_permissions', field: 'permissions' });
    const selfPatch = await stack.rest('PATCH', `/api-keys/${admin.keyId}`, { key: admin.secret, body: { permissions: ['admin', 'operator'] } });
    expect(selfPatch.status).toBe(403);
    const byOperator = await stack.rest('POST', '/api-keys', { body: { id: 'second-operator', permissions: ['operator', 'read-only'] } });
    expect(byOperator.status).toBe(201);
    expect((await stack.rest('GET', '/workspaces', { key: byOperator.body.api_key })).status).toBe(200);
  });

  it('the workspace admin reaches no other workspace, and its attempts change nothing', async () => {
    const before = await workspaceRows();
    await expectNoOperatorReach(admin.secret);
    expect(await workspaceRows()).toBe(before);
  });
});

describe('no stored wildcard confers operator', () => {
  // Keys written before these spellings were refused may still hold them.
  it.each([['operator:*'], ['operator:read'], ['*'], ['*:*'], ['Operator:*'], ['OPERATOR']])(
    'a key holding admin and %j cannot list or create workspaces',
    async (spelling) => {
      const legacy = await stack.workspace(['admin', spelling]);
      const before = await workspaceRows();
      await expectNoOperatorReach(legacy.secret);
      expect(await workspaceRows()).toBe(before);
    },
  );

  it('hasScope answers operator only for the exact scope', () => {
    for (const spelling of SPELLINGS) expect(hasScope([spelling, 'keys:*'], 'operator'), spelling).toBe(false);
    expect(hasScope(['operator'], 'operator')).toBe(true);
    expect(hasScope(['keys:*'], 'keys:write')).toBe(true);
    expect(hasScope(['products:*'], 'products:read')).toBe(true);
  });
});
