import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import { hasScope, OPERATOR_SCOPES } from '../../core/permissions.js';
import { routes } from '../../server/rest/index.js';
import { appRouter } from '../../server/routers/_app.js';
import type { ProcedureMeta } from '../../server/trpc.js';
import { startStack, type Stack } from '../harness.js';
import { inputJsonSchema, sample } from '../schema-sample.js';

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

/**
 * Every route and procedure of the provider's plane, taken from the route table (`scope`) and the
 * router (`scopedProcedure` records its scope as the procedure's meta), so a new one is covered the
 * day it is added. A workspace admin is refused each (403/FORBIDDEN, or 404/NOT_FOUND) before it
 * reads or changes anything, even when the id it names is its own workspace.
 */
describe("a workspace admin is refused every operator route and procedure", () => {
  const operatorRoutes = routes.filter((r) => OPERATOR_SCOPES.has(r.scope ?? ''));
  const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: ProcedureMeta; inputs: z.ZodType[] } }>);
  const operatorProcedures = procedures.filter(([, p]) => OPERATOR_SCOPES.has(p._def.meta?.scope ?? ''));
  const providerRows = async () =>
    JSON.stringify(
      await Promise.all(
        ['plan', 'workspace', 'api_key', 'webhook_endpoint', 'limit_request', 'event', 'audit_log'].map((t) => stack.orm.em.fork().execute(`select * from ${t} order by 1`)),
      ),
    );

  it('finds them: plans, workspaces and the rest of the provider plane', () => {
    expect(operatorRoutes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['get /plans', 'post /plans', 'get /plans/{id}', 'patch /plans/{id}', 'delete /plans/{id}', 'get /workspaces/{id}', 'patch /workspaces/{id}', 'get /workspaces', 'post /workspaces']),
    );
    expect(operatorProcedures.map(([path]) => path)).toEqual(
      expect.arrayContaining(['plans.list', 'plans.get', 'plans.create', 'plans.update', 'plans.delete', 'workspaces.get', 'workspaces.update', 'workspaces.overview', 'workspaces.list', 'workspaces.create']),
    );
  });

  it('REST: 403 or 404 on each, nothing changed', async () => {
    const before = await providerRows();
    for (const route of operatorRoutes) {
      const path = route.path.replace(/\{\w+\}/g, admin.workspaceId);
      const body = route.body ? sample(inputJsonSchema(route.body)) : undefined;
      const res = await stack.rest(route.method.toUpperCase(), path, { key: admin.secret, body });
      expect([403, 404], `${route.method} ${route.path} → ${res.status} ${JSON.stringify(res.body)}`).toContain(res.status);
    }
    expect(await providerRows()).toBe(before);
  });

  it('tRPC: FORBIDDEN or NOT_FOUND on each, nothing changed', async () => {
    const before = await providerRows();
    const caller = await stack.caller(admin.secret);
    for (const [path, p] of operatorProcedures) {
      const input = p._def.inputs[0] ? (sample(inputJsonSchema(p._def.inputs[0])) as Record<string, unknown>) : undefined;
      if (input && typeof input === 'object' && 'id' in input) input.id = admin.workspaceId;
      const fn = path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], caller) as (i: unknown) => Promise<unknown>;
      const err = await fn(input).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, path).toBeInstanceOf(TRPCError);
      expect(['FORBIDDEN', 'NOT_FOUND'], `${path} → ${(err as TRPCError).code} ${(err as TRPCError).message}`).toContain((err as TRPCError).code);
    }
    expect(await providerRows()).toBe(before);
  });
});
