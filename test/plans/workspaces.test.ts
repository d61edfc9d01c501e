import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS } from '../../core/usage/histogram.js';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
let acmeAdmin: string;
const month = () => new Date().toISOString().slice(0, 7);

beforeAll(async () => {
  stack = await startStack({ worker: false });
  await stack.rest('POST', '/plans', {
    body: { id: 'free', name: 'Free', key_rate_limits: [{ limit: 100, window_seconds: 60 }], monthly_calls: 10_000, max_keys: 3, grantable_scopes: ['products:read'] },
  });
  await stack.rest('POST', '/plans', { body: { id: 'pro', name: 'Pro', monthly_calls: 1_000_000, max_keys: 50 } });
  const acme = await stack.rest('POST', '/workspaces', { body: { id: 'acme', name: 'Acme' } });
  acmeAdmin = acme.body.admin_key.api_key;
});
afterAll(() => stack.close());

describe('GET and PATCH /workspaces/{id}', () => {
  it('assigning a plan shows the plan, no overrides and the effective limits; audited in the workspace', async () => {
    const res = await stack.rest('PATCH', '/workspaces/acme', { body: { plan: 'free' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      id: 'acme',
      plan_id: 'free',
      plan_name: 'Free',
      overrides: {},
      limits: { plan_id: 'free', key_rate_limits: [{ limit: 100, window_seconds: 60 }], monthly_calls: 10_000, max_keys: 3, grantable_scopes: ['products:read'], max_webhook_endpoints: null },
      month: { month: month(), calls: 0, quota: 10_000, quota_state: 'ok' },
      notes: [],
    });
    const { notes: _notes, ...detail } = res.body;
    expect((await stack.rest('GET', '/workspaces/acme')).body).toEqual(detail);
    const audit = await stack.rest('GET', '/audit-log?action=workspace.plan_changed', { key: acmeAdmin });
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({ target_id: 'acme', actor_key_id: 'bootstrap', changes: { plan: { from: null, to: 'free' } } });
  });

  it('overrides replace single limits of the plan; the rest stays the plan’s; {} clears them', async () => {
    const res = await stack.rest('PATCH', '/workspaces/acme', {
      body: { overrides: { monthly_calls: 50_000, key_rate_limits: [{ limit: 500, window_seconds: 60 }], grantable_scopes: null } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.overrides).toEqual({ key_rate_limits: [{ limit: 500, window_seconds: 60 }], monthly_calls: 50_000, grantable_scopes: null });
    expect(res.body.limits).toMatchObject({ plan_id: 'free', monthly_calls: 50_000, key_rate_limits: [{ limit: 500, window_seconds: 60 }], grantable_scopes: null, max_keys: 3 });
    // The new ceiling applies to keys at once.
    expect((await stack.rest('POST', '/api-keys', { key: acmeAdmin, body: { id: 'k400', rate_limits: [{ limit: 400, window_seconds: 60 }] } })).status).toBe(201);
    const audit = await stack.rest('GET', '/audit-log?action=workspace.overrides_changed', { key: acmeAdmin });
    expect(audit.body.entries[0].changes.overrides).toEqual({
      from: {},
      to: { key_rate_limits: [{ limit: 500, window_seconds: 60 }], monthly_calls: 50_000, grantable_scopes: null },
    });

    const caller = await stack.caller();
    const cleared = await caller.workspaces.update({ id: 'acme', overrides: {} });
    expect(cleared.overrides).toEqual({});
    expect(cleared.limits.monthlyCalls).toBe(10_000);
    expect((await caller.workspaces.get({ id: 'acme' })).limits.keyRateLimits).toEqual([{ limit: 100, windowSeconds: 60 }]);
  });

  it('a quota below this month’s calls is allowed, takes effect at once, and the answer says so', async () => {
    const em = stack.orm.em.fork();
    await em.execute(`insert into workspace_quota (workspace_id, month, calls, credits, updated_at) values ('acme', ?::date, 1500, 0, now())`, [`${month()}-01`]);
    const res = await stack.rest('PATCH', '/workspaces/acme', { body: { overrides: { monthly_calls: 1000 } } });
    expect(res.status).toBe(200);
    expect(res.body.month).toMatchObject({ calls: 1500, quota: 1000, quota_state: 'exceeded' });
    expect(res.body.notes).toHaveLength(1);
    expect(res.body.notes[0]).toMatch(/1000.*1500 calls.*takes effect at once.*USAGE_EXCEEDED/);
    const near = await stack.rest('PATCH', '/workspaces/acme', { body: { overrides: { monthly_calls: 1800 } } });
    expect(near.body.month.quota_state).toBe('approaching');
    expect(near.body.notes[0]).toMatch(/83 %/);
  });

  it('a plan of null leaves the workspace unlimited; an unknown workspace is a 404', async () => {
    const caller = await stack.caller();
    const none = await caller.workspaces.update({ id: 'acme', plan: null, overrides: {} });
    expect(none).toMatchObject({ planId: null, planName: null, limits: { monthlyCalls: null, keyRateLimits: [], maxKeys: null }, month: { quotaState: 'ok' } });
    expect((await stack.rest('GET', '/workspaces/nowhere')).status).toBe(404);
    expect((await stack.rest('PATCH', '/workspaces/nowhere', { body: { plan: 'free' } })).status).toBe(404);
    await caller.workspaces.update({ id: 'acme', plan: 'free' });
  });
});

describe('the workspace’s own limits', () => {
  it('any key of the workspace reads them, over tRPC and REST', async () => {
    const key = await stack.rest('POST', '/api-keys', { key: acmeAdmin, body: { id: 'reader', permissions: ['read-only'] } });
    const caller = await stack.caller(key.body.api_key);
    const own = await caller.workspaces.limits();
    expect(own).toMatchObject({ id: 'acme', planId: 'free', planName: 'Free', limits: { monthlyCalls: 10_000 }, month: { quota: 10_000, calls: 1500 } });
    const rest = await stack.rest('GET', '/workspace/limits', { key: key.body.api_key });
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ id: 'acme', plan_id: 'free', month: { quota: 10_000, credits_grant: null } });
  });
});

describe('workspaces.overview', () => {
  beforeAll(async () => {
    const em = stack.orm.em.fork();
    const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
    const hist = `{${Array.from({ length: BUCKETS }, (_, i) => (i === 2 ? 1 : 0)).join(',')}}`;
    const rows: [string, number, number][] = [
      ['ov-busy', 900, 10],
      ['ov-failing', 100, 50],
      ['ov-quiet', 5, 0],
    ];
    for (const [id, calls, errors] of rows) {
      await em.execute(`insert into workspace (id, name, key_prefix, plan_id, created_at) values (?, ?, 'gate', 'pro', now())`, [id, `Overview ${id}`]);
      await em.execute(
        `insert into usage_day (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist) values (?, ?, 'k', 'GET /x', ?, ?, 0, ?, 10, ?::bigint[])`,
        [id, today, calls, errors, calls * 10, hist.replace('1', String(calls))],
      );
    }
    await em.execute(
      `insert into api_key (client_id, pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at, last_used_at)
       values ('ci_' || replace(gen_random_uuid()::text, '-', ''), 'kid_ov1', 'ov-quiet', 'a', '', 'live', '[]', '[]', '[]', '{}', true, 'x', now(), now(), now()), ('ci_' || replace(gen_random_uuid()::text, '-', ''), 'kid_ov2', 'ov-quiet', 'b', '', 'live', '[]', '[]', '[]', '{}', true, 'x', now(), now(), null)`,
    );
  });

  it('sorts by calls, error rate and keys, searches id and name, pages with a total', async () => {
    const caller = await stack.caller();
    const byCalls = await caller.workspaces.overview({ search: 'ov-', sort: 'calls' });
    expect(byCalls.total).toBe(3);
    expect(byCalls.rows.map((r) => r.id)).toEqual(['ov-busy', 'ov-failing', 'ov-quiet']);
    expect(byCalls.rows[0]).toMatchObject({ planId: 'pro', planName: 'Pro', callsThisMonth: 900, quota: 1_000_000, activeKeys: 0 });
    expect(byCalls.rows[1]!.errorRate).toBe(0.5);
    // Half the calls failed: the error component is 0, so the score is well below a healthy one.
    expect(byCalls.rows[1]!.health).toBeLessThan(byCalls.rows[2]!.health);

    expect((await caller.workspaces.overview({ search: 'ov-', sort: 'errorRate' })).rows[0]!.id).toBe('ov-failing');
    expect((await caller.workspaces.overview({ search: 'ov-', sort: 'calls', order: 'asc' })).rows.map((r) => r.id)).toEqual(['ov-quiet', 'ov-failing', 'ov-busy']);
    const byKeys = await caller.workspaces.overview({ search: 'ov-', sort: 'keys' });
    expect(byKeys.rows[0]).toMatchObject({ id: 'ov-quiet', activeKeys: 2 });
    expect(byKeys.rows[0]!.lastActivityAt).not.toBeNull();

    const page2 = await caller.workspaces.overview({ search: 'ov-', sort: 'name', limit: 2, offset: 2 });
    expect(page2).toMatchObject({ total: 3, rows: [{ id: 'ov-quiet' }] });
    // Search covers names too, case-insensitively; % and _ are literal.
    expect((await caller.workspaces.overview({ search: 'OVERVIEW OV-BUSY' })).rows.map((r) => r.id)).toEqual(['ov-busy']);
    expect((await caller.workspaces.overview({ search: '%' })).total).toBe(0);
    const all = await caller.workspaces.overview();
    expect(all.total).toBeGreaterThanOrEqual(5);
  });
});

describe('workspaces.overview past thousands of workspaces', () => {
  it('3000 workspaces: sorted by calls in the database, the last pages exact, the total right', async () => {
    const em = stack.orm.em.fork();
    const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
    await em.execute(
      `insert into workspace (id, name, key_prefix, plan_id, created_at) select 'bulk-' || lpad(n::text, 4, '0'), 'Bulk ' || n, 'gate', 'free', now() from generate_series(1, 3000) n`,
    );
    await em.execute(
      `insert into usage_day (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
       select 'bulk-' || lpad(n::text, 4, '0'), ?, 'k', 'GET /x', n, 0, 0, n, 1, array_fill(0::bigint, array[${BUCKETS}]) from generate_series(1, 3000) n`,
      [today],
    );
    const caller = await stack.caller();
    const last = await caller.workspaces.overview({ search: 'bulk-', sort: 'calls', order: 'desc', limit: 50, offset: 2950 });
    expect(last.total).toBe(3000);
    expect(last.rows.map((r) => r.callsThisMonth)).toEqual(Array.from({ length: 50 }, (_, i) => 50 - i));
    expect(last.rows[0]).toMatchObject({ id: 'bulk-0050', planId: 'free', quota: 10_000 });
    const first = await caller.workspaces.overview({ search: 'bulk-', sort: 'calls', limit: 1 });
    expect(first.rows[0]).toMatchObject({ id: 'bulk-3000', callsThisMonth: 3000 });
  });
});
