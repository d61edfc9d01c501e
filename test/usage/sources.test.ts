import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Migration20261201031819_UsageSources } from '../../db/migrations/Migration20261201031819_UsageSources.js';
import { startStack, type Stack } from '../harness.js';

// Usage means the provider's API traffic (issue #18, item 2): verifications and the calls a service
// reports. Calls to Gatehouse itself — its REST API with a key, the web UI's session — are kept in
// the request log under their own filter and never move a figure.

let stack: Stack;
let admin: { workspaceId: string; secret: string; keyId: string };
let customer: string;

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  admin = await stack.workspace(['admin']);
  const created = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: 'customer', permissions: ['products:read'] } });
  expect(created.status).toBe(201);
  customer = created.body.api_key as string;
});
afterAll(() => stack.close());

/** A tRPC call over HTTP as the browser makes it: the session cookie, no x-api-key header. */
async function ui(kind: 'query' | 'mutation', path: string, cookie: string, input?: unknown): Promise<number> {
  const headers: Record<string, string> = { cookie, 'x-gatehouse-csrf': '1' };
  const res =
    kind === 'query'
      ? await fetch(`${stack.url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })
      : await fetch(`${stack.url}/trpc/${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? {}) });
  await res.arrayBuffer();
  return res.status;
}

async function signIn(secret: string): Promise<string> {
  const res = await fetch(`${stack.url}/trpc/session.signIn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gatehouse-csrf': '1' },
    body: JSON.stringify({ key: secret }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const verify = (secret: string) => stack.rest('POST', '/v1/keys/verify', { key: admin.secret, body: { key: secret } });

/** Every figure the dashboard, Usage and Keys pages show, read after everything buffered is written. */
async function figures() {
  await stack.deps.usage.flush();
  const caller = await stack.caller(admin.secret);
  const today = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
  const [summary, keys, series] = await Promise.all([
    caller.usage.summary(),
    caller.usage.keys({ ids: [admin.keyId, 'customer'] }),
    caller.usage.timeseries({ interval: 'hour', from: today.toISOString(), to: new Date(today.getTime() + 86_400_000).toISOString() }),
  ]);
  const perKey = Object.fromEntries(Object.entries(keys).map(([id, k]) => [id, { callsToday: k.callsToday, callsMonth: k.callsMonth, refusedToday: k.refusedToday }]));
  return { summary, perKey, hours: series.points.filter((p) => p.calls > 0) };
}

async function sources(workspaceId: string) {
  return stack.orm.em
    .fork()
    .execute<{ source: string; route: string; status: number; counted: boolean }[]>(`select source, route, status, counted from usage_record where workspace_id = ? order by id`, [workspaceId]);
}

describe('usage counts only the provider’s API traffic', () => {
  it('browsing the UI and managing keys over REST leave every figure as it was; verifications move them', async () => {
    expect((await verify(customer)).body.code).toBe('VALID');
    const before = await figures();
    expect(before.summary.calls).toBe(1);

    const cookie = await signIn(admin.secret);
    for (const path of ['usage.summary', 'keys.list', 'logs.search', 'session.me']) expect(await ui('query', path, cookie)).toBe(200);
    // A form the UI sends with a bad field: the 400 is the UI's, not an error of the provider's API.
    expect(await ui('mutation', 'keys.create', cookie, { permissions: ['NotAScope'] })).toBe(400);
    expect((await stack.rest('GET', '/api-keys', { key: admin.secret })).status).toBe(200);
    expect((await stack.rest('POST', '/api-keys', { key: admin.secret, body: { permissions: 'nope' } })).status).toBe(400);
    expect((await stack.rest('GET', '/usage/keys/no-such-key', { key: admin.secret })).status).toBe(404);

    const browsed = await figures();
    expect(browsed).toEqual(before);
    expect(browsed.summary).toMatchObject({ calls: 1, errors4xx: 0, errorRate: 0, healthScore: 100 });
    expect(browsed.perKey[admin.keyId]).toEqual({ callsToday: 0, callsMonth: 0, refusedToday: 0 });

    // The management and UI calls are all there, each with its source, none counted.
    const rows = (await sources(admin.workspaceId)).filter((r) => r.source !== 'verification');
    expect(rows.some((r) => r.source === 'ui' && r.route === '/trpc/keys.create' && r.status === 400)).toBe(true);
    expect(rows.some((r) => r.source === 'api' && r.route === '/api-keys' && r.status === 400)).toBe(true);
    expect(rows.every((r) => !r.counted)).toBe(true);
    expect(new Set(rows.filter((r) => r.route.startsWith('/trpc/')).map((r) => r.source))).toEqual(new Set(['ui']));

    expect((await verify(customer)).body.code).toBe('VALID');
    expect((await verify('gh_live_not_a_key')).body.code).toBe('NOT_FOUND');
    const after = await figures();
    expect(after.summary).toMatchObject({ calls: 3, errors4xx: 1 });
    expect(after.perKey['customer']).toEqual({ callsToday: 2, callsMonth: 2, refusedToday: 0 });
    expect(after.hours.reduce((n, p) => n + p.calls, 0)).toBe(3);
  });

  it('a tRPC call made with a key is the management API (api), one made by the UI session is ui', async () => {
    const ws = await stack.workspace(['admin']);
    expect((await stack.rest('GET', '/trpc/system.whoami', { key: ws.secret })).status).toBe(200);
    const cookie = await signIn(ws.secret);
    expect(await ui('query', 'system.whoami', cookie)).toBe(200);
    await stack.deps.usage.flush();
    const rows = (await sources(ws.workspaceId)).filter((r) => r.route === '/trpc/system.whoami');
    expect(rows.map((r) => [r.source, r.counted])).toEqual([
      ['api', false],
      ['ui', false],
    ]);
  });

  it('Logs show the provider’s traffic by default and management and UI calls under their own filter', async () => {
    await stack.deps.usage.flush();
    const log = async (query: string) => {
      const res = await stack.rest('GET', `/logs?limit=500${query}`, { key: admin.secret });
      expect(res.status).toBe(200);
      return (res.body.entries as { source: string; route: string }[]).map((e) => e.source);
    };
    expect(new Set(await log(''))).toEqual(new Set(['verification']));
    expect(new Set(await log('&kind=traffic'))).toEqual(new Set(['verification']));
    expect(new Set(await log('&kind=management'))).toEqual(new Set(['api', 'ui']));
    expect(new Set(await log('&kind=all'))).toEqual(new Set(['api', 'ui', 'verification']));
    expect(new Set(await log('&source=ui'))).toEqual(new Set(['ui']));
    expect(new Set(await log('&source=api'))).toEqual(new Set(['api']));
    // A source outside the kind asked for: nothing, rather than a silent widening.
    expect(await log('&source=ui&kind=traffic')).toEqual([]);
    const bad = await stack.rest('GET', '/logs?kind=everything', { key: admin.secret });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('kind');

    const caller = await stack.caller(admin.secret);
    const ui = await caller.logs.search({ source: 'ui' });
    expect(ui.entries.length).toBeGreaterThan(0);
    expect(ui.entries.every((e) => e.source === 'ui' && e.route.startsWith('/trpc/'))).toBe(true);
    expect((await caller.logs.search()).entries.every((e) => e.source === 'verification')).toBe(true);
  });
});

describe('the live tail', () => {
  it('follows the same filter: the provider’s traffic by default, the UI’s calls when asked for', async () => {
    const ws = await stack.workspace(['admin']);
    const caller = await stack.caller(ws.secret);
    const traffic = (await caller.logs.tail())[Symbol.asyncIterator]();
    const management = (await caller.logs.tail({ kind: 'management' }))[Symbol.asyncIterator]();
    const [nextTraffic, nextManagement] = [traffic.next(), management.next()];
    const record = (source: 'ui' | 'service', route: string) =>
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: ws.keyId, source, method: 'GET', route, status: 200, latencyMs: 1, counted: source === 'service' });
    // A tail starts from the newest record when it first polls: records written until both have
    // answered, each time the UI's call first, which a traffic tail reads past (its cursor moves).
    let answered = false;
    const both = Promise.all([nextTraffic, nextManagement]).finally(() => (answered = true));
    const deadline = Date.now() + 15_000;
    while (!answered && Date.now() < deadline) {
      record('ui', '/trpc/keys.list');
      record('service', '/products');
      await stack.deps.usage.flush();
      await Promise.race([both, new Promise((r) => setTimeout(r, 100))]);
    }
    const [t, m] = await both;
    expect(t.value).toMatchObject({ source: 'service', route: '/products' });
    expect(m.value).toMatchObject({ source: 'ui', route: '/trpc/keys.list' });
    await traffic.return?.();
    await management.return?.();
  });
});

describe('the UsageSources migration', () => {
  it('takes counted management records out of the rollups, marks them uncounted and fills refused from the records', async () => {
    const ws = await stack.workspace(['admin']);
    const at = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000 + 90_000);
    const rec = (source: 'api' | 'verification' | 'service', route: string, status: number, code: string | null, latencyMs: number) =>
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'k', source, method: source === 'verification' ? 'VERIFY' : 'GET', route, status, latencyMs, code, counted: true, at });
    // What the writer did before: management calls counted like any other; one route shared by the
    // provider's service and Gatehouse's API keeps the service's share.
    rec('api', '/api-keys', 200, null, 12);
    rec('api', '/api-keys', 400, null, 3);
    rec('api', '/shared', 500, null, 700);
    rec('service', '/shared', 200, 'VALID', 40);
    rec('verification', '/v1/keys/verify', 200, 'VALID', 2);
    rec('verification', '/v1/keys/verify', 429, 'RATE_LIMITED', 1);
    rec('verification', '/v1/keys/verify', 429, 'RATE_LIMITED', 1);
    await stack.deps.usage.flush();
    const em = stack.orm.em.fork();
    // Rollups as the old writer left them: no refusals counted.
    for (const table of ['usage_minute', 'usage_hour', 'usage_day']) await em.execute(`update ${table} set refused = 0 where workspace_id = ?`, [ws.workspaceId]);

    const migration = new Migration20261201031819_UsageSources(stack.orm.em.getDriver() as never, stack.orm.config as never);
    await migration.up();
    // The columns exist already (this database is migrated): run the data changes it makes.
    for (const q of migration.getQueries().map(String).filter((s) => !s.startsWith('alter table'))) await em.execute(q);

    for (const table of ['usage_minute', 'usage_hour', 'usage_day']) {
      const rows = await em.execute<{ route: string; calls: string; errors_4xx: string; errors_5xx: string; refused: string; latency_sum: number; hist: string[] }[]>(
        `select route, calls, errors_4xx, errors_5xx, refused, latency_sum, hist from ${table} where workspace_id = ? order by route`,
        [ws.workspaceId],
      );
      const view = rows.map((r) => ({ route: r.route, calls: Number(r.calls), e4: Number(r.errors_4xx), e5: Number(r.errors_5xx), refused: Number(r.refused), hist: r.hist.map(Number).reduce((a, b) => a + b, 0) }));
      expect({ table, view }).toEqual({
        table,
        view: [
          { route: 'GET /shared', calls: 1, e4: 0, e5: 0, refused: 0, hist: 1 },
          { route: 'VERIFY /v1/keys/verify', calls: 3, e4: 2, e5: 0, refused: 2, hist: 3 },
        ],
      });
      expect(rows.find((r) => r.route === 'GET /shared')!.latency_sum).toBeCloseTo(40, 3);
    }
    const records = await sources(ws.workspaceId);
    expect(records.filter((r) => r.source === 'api').map((r) => r.counted)).toEqual([false, false, false]);
    expect(records.filter((r) => r.source !== 'api').every((r) => r.counted)).toBe(true);
    const caller = await stack.caller(ws.secret);
    expect(await caller.usage.summary({ from: new Date(at.getTime() - 3_600_000).toISOString(), to: new Date(at.getTime() + 3_600_000).toISOString() })).toMatchObject({
      calls: 4,
      errors4xx: 2,
      errors5xx: 0,
    });
  });
});
