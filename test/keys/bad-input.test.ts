import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { requestFrom } from '../security/from-address.js';

/**
 * Bad input at every key, workspace and audit route: each answer is a 4xx JSON error that names
 * what was wrong, and the database is exactly as before.
 */
let stack: Stack;

const TABLES: Record<string, string> = {
  workspace: 'select * from workspace order by id',
  // last_used_at is the verifier's to touch on any authenticated request.
  api_key: 'select pk, workspace_id, id, name, environment, permissions, rate_limits, credits_remaining, expires_at, ip_allowlist, rotation_policy_days, metadata, enabled, start, revoked_at, updated_at from api_key order by pk',
  api_key_secret: 'select hash, api_key_pk, revoked_at, expires_at from api_key_secret order by hash',
  audit_log: 'select * from audit_log order by id',
  event: 'select id, type, payload from event order by id',
};
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [t, q] of Object.entries(TABLES)) out[t] = JSON.stringify(await stack.orm.em.fork().execute(q));
  return out;
}

beforeAll(async () => {
  stack = await startStack({ worker: false });
  expect((await stack.rest('POST', '/api-keys', { body: { id: 'existing' } })).status).toBe(201);
});
afterAll(() => stack.close());

function expectNamedError(res: { status: number; body: { error?: { code?: string; message?: string } } }, status: number, mention: RegExp, label: string) {
  expect(res.status, label).toBe(status);
  expect(res.body.error?.code, label).toMatch(/^[a-z_]+$/);
  expect(res.body.error?.message, label).toMatch(mention);
}

const BAD_IDS: [string, string][] = [
  ['empty', ''],
  ['300 characters', 'k'.repeat(300)],
  ['emoji', 'key-🔑'],
  ['Cyrillic look-alike', 'аpi-key'],
  ['right-to-left override', 'key\u202Eyek'],
  ['zero-width space', 'key\u200Bid'],
  ['path traversal', '../etc/passwd'],
  ['slash', 'a/b'],
  ['SQL fragment', "x'; drop table api_key; --"],
  ['SQL or', "' or '1'='1"],
  ['space', 'my key'],
  ['NUL', 'key\u0000id'],
  ['leading dot', '.hidden'],
];

describe('POST /api-keys body', () => {
  it.each(BAD_IDS)('refuses an id that is %s, naming id', async (_label, id) => {
    const before = await snapshot();
    const res = await stack.rest('POST', '/api-keys', { body: { id } });
    expectNamedError(res, 400, /^id: /, id);
    expect(res.body.error.field).toBe('id');
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['malformed JSON', '{"id": "x",', /body: not valid JSON/],
    ['a JSON array', '[{"id":"x"}]', /body: .*object/i],
    ['a JSON string', '"x"', /body/],
    ['id as a number', { id: 42 }, /^id: expected a string/],
    ['permissions as a string', { id: 'p1', permissions: 'admin' }, /^permissions: /],
    ['an unknown permission shape', { id: 'p2', permissions: ['PRODUCTS:Write'] }, /^permissions\.0: .*resource:action/],
    ['a made-up Gatehouse scope', { id: 'p3', permissions: ['keys:everything'] }, /^permissions\.0: 'keys:everything' is not a Gatehouse scope/],
    ['a rate limit as text', { id: 'r1', rate_limits: [{ limit: '10', window_seconds: 60 }] }, /^rate_limits\.0\.limit: /],
    ['a zero window', { id: 'r2', rate_limits: [{ limit: 10, window_seconds: 0 }] }, /^rate_limits\.0\.window_seconds: at least 1 second/],
    ['two limits with one name', { id: 'r3', rate_limits: [{ limit: 1, window_seconds: 60 }, { limit: 2, window_seconds: 60 }] }, /^rate_limits: two rate limits are named '60s'/],
    ['negative credits', { id: 'c1', credits: { remaining: -1 } }, /^credits\.remaining: at least 0/],
    ['a weekly refill', { id: 'c2', credits: { remaining: 1, refill: { amount: 1, interval: 'weekly' } } }, /^credits\.refill\.interval: /],
    ['a free-text expiry', { id: 'e1', expires_at: 'tomorrow' }, /^expires_at: expected an ISO 8601 date-time/],
    ['a past expiry', { id: 'e2', expires_at: '2020-01-01T00:00:00Z' }, /^expires_at: must be in the future/],
    ['a bad CIDR', { id: 'i1', ip_allowlist: ['300.1.1.1/33'] }, /^ip_allowlist\.0: expected an IPv4\/IPv6 address or CIDR/],
    ['a host name in the allowlist', { id: 'i2', ip_allowlist: ['example.com'] }, /^ip_allowlist\.0: /],
    ['a zero rotation policy', { id: 'o1', rotation_policy_days: 0 }, /^rotation_policy_days: at least 1 day/],
    ['metadata as an array', { id: 'm1', metadata: ['x'] }, /^metadata: /],
    ['metadata over 8 KB', { id: 'm2', metadata: { blob: 'x'.repeat(9000) } }, /^metadata: at most 8192 bytes/],
    ['enabled as text', { id: 'b1', enabled: 'yes' }, /^enabled: /],
    ['an unknown environment', { id: 'v1', environment: 'prod' }, /^environment: /],
    ['a misspelt field', { id: 'f1', permisions: ['admin'] }, /^permisions: unknown field; check its spelling/],
    ['a name with a newline', { id: 'n1', name: 'a\nb' }, /^name: no control characters/],
  ])('refuses %s, naming the field', async (label, body, mention) => {
    const before = await snapshot();
    const res = await stack.rest('POST', '/api-keys', { body });
    expectNamedError(res, 400, mention, label);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a body sent without Content-Type: application/json', async () => {
    const before = await snapshot();
    const res = await stack.rest('POST', '/api-keys', { body: '{"id":"plain"}', headers: { 'content-type': 'text/plain' } });
    expectNamedError(res, 400, /Content-Type: application\/json/, 'text/plain');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a body over the size limit with 413', async () => {
    const res = await stack.rest('POST', '/api-keys', { body: { id: 'big', metadata: { x: 'y'.repeat(400_000) } } });
    expectNamedError(res, 413, /body: larger than/, 'big');
  });
});

describe('path ids and queries', () => {
  const ROUTES: [string, string, unknown][] = [
    ['GET', '/api-keys/{id}', undefined],
    ['PATCH', '/api-keys/{id}', { name: 'x' }],
    ['POST', '/api-keys/{id}/revoke', {}],
    ['DELETE', '/api-keys/{id}', undefined],
  ];
  const PATH_IDS: [string, string][] = [
    ['300 characters', 'k'.repeat(300)],
    ['encoded traversal', '..%2F..%2Fetc%2Fpasswd'],
    ['SQL fragment', encodeURIComponent("x' or 1=1 --")],
    ['emoji', encodeURIComponent('🔑')],
    ['encoded NUL', '%00'],
    ['space', '%20'],
  ];

  it.each(ROUTES)('%s %s refuses malformed ids with 400 naming the path parameter', async (method, path, body) => {
    const before = await snapshot();
    for (const [label, id] of PATH_IDS) {
      const res = await stack.rest(method, path.replace('{id}', id), { body });
      expectNamedError(res, 400, /^path parameter id: /, `${method} ${label}`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('PATCH refuses wrong types and leaves the key as it was', async () => {
    const before = await snapshot();
    for (const [body, mention] of [
      [{ name: 5 }, /^name: /],
      [{ enabled: 'false' }, /^enabled: /],
      [{ permissions: ['admin', 7] }, /^permissions\.1: /],
      [{ credits: { remaining: 1.5 } }, /^credits\.remaining: expected an integer/],
      [{ id: 'rename-me' }, /^id: unknown field; check its spelling/],
      ['{"name": ', /body: not valid JSON/],
    ] as [unknown, RegExp][]) {
      expectNamedError(await stack.rest('PATCH', '/api-keys/existing', { body }), 400, mention, JSON.stringify(body));
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['/api-keys?limit=0', /^query parameter limit: at least 1/],
    ['/api-keys?limit=abc', /^query parameter limit: /],
    ['/api-keys?limit=100000', /^query parameter limit: at most 500/],
    ['/api-keys?status=gone', /^query parameter status: /],
    ['/api-keys?environment=prod', /^query parameter environment: /],
    ['/api-keys?cursor=not-a-cursor', /^cursor: not a cursor this API returned/],
    ['/api-keys?statuss=active', /^query parameter statuss: unknown field/],
    ['/audit-log?since=yesterday', /^query parameter since: expected an ISO 8601 date-time/],
    ['/audit-log?key_id=..%2Fx', /^query parameter key_id: /],
    ['/audit-log?cursor=eyJ4Ijox', /^cursor: not a cursor/],
    ['/workspaces?limit=-1', /^query parameter limit: /],
  ])('GET %s answers 400 naming the parameter', async (path, mention) => {
    expectNamedError(await stack.rest('GET', path), 400, mention, path);
  });
});

describe('POST /workspaces body', () => {
  it.each([
    [{ id: 'Trebol', name: 'T' }, /^id: lowercase letters/],
    [{ id: '../x', name: 'T' }, /^id: /],
    [{ id: 'w'.repeat(300), name: 'T' }, /^id: /],
    [{ id: "w'; drop table workspace; --", name: 'T' }, /^id: /],
    [{ id: 'ok-id' }, /^name: /],
    [{ id: 'ok-id', name: '   ' }, /^name: must not be empty/],
    [{ id: 'ok-id', name: 'T', key_prefix: 'TREB' }, /^key_prefix: a lowercase letter/],
    [{ id: 'ok-id', name: 'T', key_prefix: 'tr_eb' }, /^key_prefix: /],
    [{ id: 'default', name: 'again' }, /^id: a workspace 'default' already exists/],
  ])('refuses %j naming the field', async (body, mention) => {
    const before = await snapshot();
    const res = await stack.rest('POST', '/workspaces', { body });
    expect([400, 409]).toContain(res.status);
    expect(res.body.error.message).toMatch(mention);
    expect(await snapshot()).toEqual(before);
  });
});

describe('the x-api-key header', () => {
  const EVERY: [string, string, unknown][] = [
    ['GET', '/api-keys', undefined],
    ['POST', '/api-keys', { id: 'no-auth' }],
    ['GET', '/api-keys/existing', undefined],
    ['PATCH', '/api-keys/existing', { name: 'x' }],
    ['POST', '/api-keys/existing/revoke', {}],
    ['DELETE', '/api-keys/existing', undefined],
    ['GET', '/audit-log', undefined],
    ['GET', '/workspaces', undefined],
    ['POST', '/workspaces', { id: 'no-auth', name: 'x' }],
  ];

  it.each(EVERY.map((route, i) => [...route, i] as const))('%s %s: missing, empty or wrong key → 401 naming x-api-key; nothing changes', async (method, path, body, i) => {
    const before = await snapshot();
    // Each route from its own loopback address: failed sign-ins are throttled per address (10 a minute).
    const from = `127.0.2.${i + 1}`;
    for (const key of [null, '', 'gate_sk_live_000000000000000000000000000000', 'tu_api_key_aqui']) {
      const res = await requestFrom(from, stack.url + path, {
        method,
        body,
        headers: key === null ? {} : { 'x-api-key': key },
      });
      expect(res.status, `${method} ${path} key=${key}`).toBe(401);
      expect(res.body.error).toEqual({ code: 'unauthorized', message: expect.stringMatching(/x-api-key/) });
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each(EVERY)('%s %s: the header twice → 400 naming x-api-key; nothing changes', async (method, path, body) => {
    const before = await snapshot();
    const url = new URL(stack.url + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await new Promise<{ status: number; body: { error: { message: string } } }>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          // Two header lines, as a misconfigured proxy would send them.
          headers: { 'x-api-key': [stack.bootstrapKey, stack.bootstrapKey], ...(payload ? { 'content-type': 'application/json' } : {}) },
        },
        (r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('x-api-key header: send it exactly once');
    expect(await snapshot()).toEqual(before);
  });
});

describe('tRPC input', () => {
  it('refuses bad ids and types with BAD_REQUEST naming the field, changing nothing', async () => {
    const before = await snapshot();
    const caller = await stack.caller();
    for (const [label, input] of [
      ['traversal', { id: '../x' }],
      ['SQL', { id: "x' or 1=1" }],
      ['300 chars', { id: 'k'.repeat(300) }],
      ['wrong type', { id: 'ok', rateLimits: [{ limit: 'many', windowSeconds: 1 }] }],
    ] as [string, unknown][]) {
      const err = await caller.keys.create(input as never).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err?.code, label).toBe('BAD_REQUEST');
    }
    const res = await stack.rest('POST', '/trpc/keys.create', { body: { id: '../x' } });
    expect(res.status).toBe(400);
    expect(res.body.error.data.issues[0]).toMatchObject({ path: 'id', message: expect.stringMatching(/1-128 characters/) });
    expect(await snapshot()).toEqual(before);
  });
});
