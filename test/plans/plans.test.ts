import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KEY_CHANGED_CHANNEL } from '../../core/keys/notify.js';
import { startStack, type Stack } from '../harness.js';
import { failure } from './failure.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

const FREE = {
  id: 'free',
  name: 'Free',
  key_rate_limits: [{ limit: 100, window_seconds: 60 }],
  workspace_rate_limits: [{ limit: 1000, window_seconds: 60 }],
  monthly_calls: 10_000,
  monthly_credits: 5_000,
  max_keys: 3,
  max_webhook_endpoints: 1,
  grantable_scopes: ['products:read'],
  log_retention_days: 7,
  default: true,
};

const rows = async (table: 'plan' | 'workspace' | 'audit_log') =>
  JSON.stringify(await stack.orm.em.fork().execute(`select * from ${table} order by ${table === 'audit_log' ? 'created_at, id' : 'id'}`));

describe('plans over REST', () => {
  it('creates, reads, lists, changes and deletes a plan; each change is audited in the operator’s workspace', async () => {
    const created = await stack.rest('POST', '/plans', { body: FREE });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ ...FREE, grantable_scopes: ['products:read'], workspaces: 0 });
    expect(Object.keys(created.body)).toEqual([
      'id',
      'name',
      'key_rate_limits',
      'workspace_rate_limits',
      'monthly_calls',
      'monthly_credits',
      'max_keys',
      'max_webhook_endpoints',
      'grantable_scopes',
      'log_retention_days',
      'default',
      'workspaces',
      'created_at',
      'updated_at',
    ]);

    const pro = await stack.rest('POST', '/plans', { body: { id: 'pro', name: 'Pro', monthly_calls: 1_000_000 } });
    expect(pro.status).toBe(201);
    // Omitted limits are unlimited: null, or no ceilings.
    expect(pro.body).toMatchObject({ key_rate_limits: [], workspace_rate_limits: [], monthly_credits: null, max_keys: null, grantable_scopes: null, default: false });

    expect((await stack.rest('GET', '/plans/free')).body).toEqual(created.body);
    const list = await stack.rest('GET', '/plans');
    expect(list.body.plans.map((p: { id: string }) => p.id)).toEqual(['free', 'pro']);

    const patched = await stack.rest('PATCH', '/plans/pro', { body: { max_keys: 50, key_rate_limits: [{ limit: 5000, window_seconds: 60 }] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: 'pro', max_keys: 50, key_rate_limits: [{ limit: 5000, window_seconds: 60 }], monthly_calls: 1_000_000 });

    const audit = await stack.rest('GET', '/audit-log?limit=10');
    const actions = audit.body.entries.map((e: { action: string; target_id: string }) => `${e.action} ${e.target_id}`);
    expect(actions).toEqual(expect.arrayContaining(['plan.created free', 'plan.created pro', 'plan.updated pro']));
    const update = audit.body.entries.find((e: { action: string }) => e.action === 'plan.updated');
    expect(update.changes).toEqual({ max_keys: { from: null, to: 50 }, key_rate_limits: { from: [], to: [{ limit: 5000, window_seconds: 60 }] } });

    expect((await stack.rest('DELETE', '/plans/pro')).body).toEqual({ id: 'pro', deleted: true });
    expect((await stack.rest('GET', '/plans/pro')).status).toBe(404);
    const after = await stack.rest('GET', '/audit-log?action=plan.deleted');
    expect(after.body.entries[0]).toMatchObject({ action: 'plan.deleted', target_id: 'pro' });
  });

  it('one default: setting it clears the previous one; new workspaces get it and raise workspace.created', async () => {
    await stack.rest('POST', '/plans', { body: { id: 'team', name: 'Team', default: true } });
    const plans = (await stack.rest('GET', '/plans')).body.plans as { id: string; default: boolean }[];
    expect(plans.filter((p) => p.default).map((p) => p.id)).toEqual(['team']);
    expect((await stack.rest('PATCH', '/plans/free', { body: { default: true } })).body.default).toBe(true);
    expect((await stack.rest('GET', '/plans/team')).body.default).toBe(false);

    const ws = await stack.rest('POST', '/workspaces', { body: { id: 'acme', name: 'Acme' } });
    expect(ws.status).toBe(201);
    const detail = await stack.rest('GET', '/workspaces/acme');
    expect(detail.body).toMatchObject({ plan_id: 'free', plan_name: 'Free', overrides: {} });
    const events = await stack.orm.em.fork().execute<{ type: string; payload: unknown }[]>(`select type, payload from event where workspace_id = 'acme' and type = 'workspace.created'`);
    expect(events).toEqual([{ type: 'workspace.created', payload: { workspace_id: 'acme', name: 'Acme', plan_id: 'free', actor_key_id: 'bootstrap' } }]);
    expect((await stack.rest('GET', '/plans/free')).body.workspaces).toBe(1);
  });

  it('concurrent default changes leave exactly one default', async () => {
    for (const id of ['d1', 'd2', 'd3', 'd4']) await stack.rest('POST', '/plans', { body: { id, name: id } });
    const results = await Promise.all(['d1', 'd2', 'd3', 'd4'].map((id) => stack.rest('PATCH', `/plans/${id}`, { body: { default: true } })));
    for (const r of results) expect(r.status).toBe(200);
    const plans = (await stack.rest('GET', '/plans')).body.plans as { id: string; default: boolean }[];
    expect(plans.filter((p) => p.default)).toHaveLength(1);
    await stack.rest('PATCH', '/plans/free', { body: { default: true } });
  });

  it('deleting a plan in use is a 409 naming its workspaces (20 and a count), and changes nothing', async () => {
    await stack.rest('POST', '/plans', { body: { id: 'busy', name: 'Busy' } });
    const em = stack.orm.em.fork();
    for (let i = 0; i < 23; i++) {
      await em.execute(`insert into workspace (id, name, key_prefix, plan_id, created_at) values (?, ?, 'gate', 'busy', now())`, [`busy-${String(i).padStart(2, '0')}`, `Busy ${i}`]);
    }
    const before = await rows('plan');
    const res = await stack.rest('DELETE', '/plans/busy');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    expect(res.body.error.message).toContain("'busy-00'");
    expect(res.body.error.message).toContain("'busy-19'");
    expect(res.body.error.message).not.toContain("'busy-20'");
    expect(res.body.error.message).toContain('23 workspaces');
    expect(res.body.error.message).toContain('and 3 more');
    expect(await rows('plan')).toBe(before);
    const caller = await stack.caller();
    await expect(caller.plans.delete({ id: 'busy' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a taken id is a 409 naming id; an unknown one a 404', async () => {
    const res = await stack.rest('POST', '/plans', { body: { id: 'free', name: 'Again' } });
    expect(res.status).toBe(409);
    expect(res.body.error.field).toBe('id');
    for (const [method, body] of [['GET'], ['PATCH', { name: 'x' }], ['DELETE']] as const) {
      const r = await stack.rest(method, '/plans/nope', { body });
      expect(r.status, method).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
  });
});

describe('plans over tRPC', () => {
  it('plans.* speak camelCase and answer the same views', async () => {
    const caller = await stack.caller();
    const made = await caller.plans.create({ id: 'startup', name: 'Startup', keyRateLimits: [{ limit: 10, windowSeconds: 1 }], maxKeys: 5 });
    expect(made).toMatchObject({ id: 'startup', keyRateLimits: [{ limit: 10, windowSeconds: 1 }], maxKeys: 5, default: false, workspaces: 0 });
    expect(await caller.plans.get({ id: 'startup' })).toEqual(made);
    const changed = await caller.plans.update({ id: 'startup', monthlyCalls: 50_000, grantableScopes: ['orders:*', 'orders:*', 'billing:read'] });
    expect(changed).toMatchObject({ monthlyCalls: 50_000, grantableScopes: ['billing:read', 'orders:*'] });
    expect((await caller.plans.list()).plans.map((p) => p.id)).toContain('startup');
    expect(await caller.plans.delete({ id: 'startup' })).toEqual({ id: 'startup', deleted: true });
    await expect(caller.plans.get({ id: 'startup' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('bad input: a 400 naming the field, and nothing changed', () => {
  const CASES: [string, string, string, unknown, string][] = [
    ['zero limit', 'POST', '/plans', { id: 'bad', name: 'Bad', key_rate_limits: [{ limit: 0, window_seconds: 60 }] }, 'key_rate_limits.0.limit'],
    ['negative limit', 'POST', '/plans', { id: 'bad', name: 'Bad', workspace_rate_limits: [{ limit: -5, window_seconds: 60 }] }, 'workspace_rate_limits.0.limit'],
    ['window of 0 s', 'POST', '/plans', { id: 'bad', name: 'Bad', key_rate_limits: [{ limit: 5, window_seconds: 0 }] }, 'key_rate_limits.0.window_seconds'],
    ['window past 31 days', 'POST', '/plans', { id: 'bad', name: 'Bad', key_rate_limits: [{ limit: 5, window_seconds: 2_678_401 }] }, 'key_rate_limits.0.window_seconds'],
    ['zero quota', 'POST', '/plans', { id: 'bad', name: 'Bad', monthly_calls: 0 }, 'monthly_calls'],
    ['negative max keys', 'POST', '/plans', { id: 'bad', name: 'Bad', max_keys: -1 }, 'max_keys'],
    ['fractional endpoints', 'POST', '/plans', { id: 'bad', name: 'Bad', max_webhook_endpoints: 1.5 }, 'max_webhook_endpoints'],
    ['Gatehouse scope as grantable', 'POST', '/plans', { id: 'bad', name: 'Bad', grantable_scopes: ['keys:write'] }, 'grantable_scopes.0'],
    ['preset as grantable', 'POST', '/plans', { id: 'bad', name: 'Bad', grantable_scopes: ['admin'] }, 'grantable_scopes.0'],
    ['operator as grantable', 'POST', '/plans', { id: 'bad', name: 'Bad', grantable_scopes: ['operator'] }, 'grantable_scopes.0'],
    ['malformed scope', 'POST', '/plans', { id: 'bad', name: 'Bad', grantable_scopes: ['Products'] }, 'grantable_scopes.0'],
    ['unknown field', 'POST', '/plans', { id: 'bad', name: 'Bad', max_key: 3 }, 'max_key'],
    ['bad id', 'POST', '/plans', { id: 'Bad Id', name: 'Bad' }, 'id'],
    ['two limits over one window', 'POST', '/plans', { id: 'bad', name: 'Bad', key_rate_limits: [{ limit: 5, window_seconds: 60 }, { limit: 6, window_seconds: 60 }] }, 'key_rate_limits'],
    ['zero limit on PATCH', 'PATCH', '/plans/free', { key_rate_limits: [{ limit: 0, window_seconds: 60 }] }, 'key_rate_limits.0.limit'],
    ['default not a boolean', 'PATCH', '/plans/free', { default: 'yes' }, 'default'],
    ['unknown plan id', 'PATCH', '/workspaces/acme', { plan: 'platinum' }, 'plan'],
    ['override naming an unknown limit', 'PATCH', '/workspaces/acme', { overrides: { max_key: 5 } }, 'overrides.max_key'],
    ['override of zero', 'PATCH', '/workspaces/acme', { overrides: { monthly_calls: 0 } }, 'overrides.monthly_calls'],
    ['override window past 31 days', 'PATCH', '/workspaces/acme', { overrides: { workspace_rate_limits: [{ limit: 1, window_seconds: 9_999_999 }] } }, 'overrides.workspace_rate_limits.0.window_seconds'],
    ['override in camelCase', 'PATCH', '/workspaces/acme', { overrides: { monthlyCalls: 5 } }, 'overrides.monthlyCalls'],
  ];

  it.each(CASES)('%s', async (_what, method, path, body, field) => {
    const before = [await rows('plan'), await rows('workspace'), await rows('audit_log')];
    const res = await stack.rest(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('invalid_input');
    expect(res.body.error.field).toBe(field);
    expect(res.body.error.message.startsWith(field)).toBe(true);
    expect([await rows('plan'), await rows('workspace'), await rows('audit_log')]).toEqual(before);
  });

  it('tRPC refuses the same with BAD_REQUEST, naming the field', async () => {
    const caller = await stack.caller();
    const before = [await rows('plan'), await rows('workspace')];
    expect(await failure(caller.plans.create({ id: 'bad', name: 'Bad', keyRateLimits: [{ limit: 5, windowSeconds: 0 }] }))).toEqual({
      code: 'BAD_REQUEST',
      field: 'keyRateLimits.0.windowSeconds',
    });
    expect(await failure(caller.plans.update({ id: 'free', maxKeys: 0 }))).toEqual({ code: 'BAD_REQUEST', field: 'maxKeys' });
    expect(await failure(caller.workspaces.update({ id: 'acme', plan: 'platinum' }))).toEqual({ code: 'BAD_REQUEST', field: 'plan' });
    expect(await failure(caller.workspaces.update({ id: 'acme', overrides: { maxKey: 1 } as never }))).toEqual({ code: 'BAD_REQUEST', field: 'overrides.maxKey' });
    expect([await rows('plan'), await rows('workspace')]).toEqual(before);
  });
});

describe('every change reaches every API process at once', () => {
  it('plan and workspace changes notify plan:<id> / workspace:<id> on commit; refused ones nothing', async () => {
    const listener = new pg.Client({ connectionString: stack.databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`listen ${KEY_CHANGED_CHANNEL}`);
    try {
      await stack.rest('POST', '/plans', { body: { id: 'notified', name: 'Notified' } });
      await stack.rest('PATCH', '/plans/notified', { body: { max_keys: 9 } });
      await stack.rest('PATCH', '/workspaces/acme', { body: { plan: 'notified' } });
      await stack.rest('PATCH', '/workspaces/acme', { body: { overrides: { max_keys: 10 } } });
      // Refused: nothing is sent. Notifications arrive in commit order, so the marker after them proves it without waiting.
      expect((await stack.rest('PATCH', '/plans/notified', { body: { max_keys: 0 } })).status).toBe(400);
      expect((await stack.rest('PATCH', '/workspaces/acme', { body: { plan: 'nope' } })).status).toBe(400);
      expect((await stack.rest('DELETE', '/plans/notified')).status).toBe(409);
      await stack.rest('PATCH', '/workspaces/acme', { body: { plan: 'free', overrides: {} } });
      await vi.waitFor(() => expect(heard.filter((p) => p.startsWith('workspace:'))).toHaveLength(3));
      expect(heard.filter((p) => p.startsWith('plan:') || p.startsWith('workspace:'))).toEqual([
        'plan:notified',
        'plan:notified',
        'workspace:acme',
        'workspace:acme',
        'workspace:acme',
      ]);
    } finally {
      await listener.end();
    }
  });
});
