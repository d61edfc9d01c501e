import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

/**
 * Input PostgreSQL cannot store or that no schema can walk (NUL characters, lone UTF-16
 * surrogates, JSON nested 50,000 deep, page cursors out of range) is a 400 naming the field, on
 * REST and tRPC alike, and changes nothing. Each of these was a 500 before.
 */
let stack: Stack;
let endpointId: string;
let limitRequestId: string;

const TABLES = [
  'select id, name from workspace order by id',
  'select pk, id, name, permissions, rate_limits, metadata, enabled, revoked_at, updated_at from api_key order by pk',
  'select hash, revoked_at from api_key_secret order by hash',
  'select id from audit_log order by id',
  'select id, type, payload from event order by id',
  'select id, url, description, status from webhook_endpoint order by id',
  'select id from webhook_delivery order by id',
  'select id, status, reason, decision_note from limit_request order by id',
  'select workspace_id, name, description from event_type order by name',
];
const snapshot = async () => JSON.stringify(await Promise.all(TABLES.map((q) => stack.orm.em.fork().execute(q))));

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  stack = await startStack({ worker: false });
  expect((await stack.rest('POST', '/api-keys', { body: { id: 'target', rate_limits: [{ name: 'per-minute', limit: 10, window_seconds: 60 }] } })).status).toBe(201);
  endpointId = (await stack.rest('POST', '/webhooks', { body: { url: 'http://127.0.0.1:9/hook' } })).body.id;
  limitRequestId = (await stack.rest('POST', '/api-keys/target/limit-requests', { body: { limit_name: 'per-minute', requested_limit: 20 } })).body.id;
});
afterAll(() => stack.close());

function expect400(res: { status: number; body: { error?: { code?: string; message?: string; field?: string } } }, message: RegExp, field?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error?.code).toBe('invalid_input');
  expect(res.body.error?.message).toMatch(message);
  if (field) expect(res.body.error?.field).toBe(field);
}

describe('NUL characters and lone surrogates', () => {
  it.each([
    ['/api-keys?search=a%00b', 'search'],
    ['/api-keys?permission=keys%00', 'permission'],
    ['/audit-log?action=key%00', 'action'],
    ['/usage/summary?key_id=%00', 'key_id'],
    ['/usage/timeseries?key_id=x%00', 'key_id'],
    ['/logs?route=%2Fa%00', 'route'],
    ['/logs?key_id=%00', 'key_id'],
    ['/limit-requests?key_id=%00', 'key_id'],
  ])('GET %s answers 400 naming the query parameter', async (path, field) => {
    const before = await snapshot();
    expect400(await stack.rest('GET', path), new RegExp(`^query parameter ${field}: contains a NUL character`), field);
    expect(await snapshot()).toBe(before);
  });

  it.each([
    ['GET', '/webhooks/ep%00x'],
    ['GET', '/events/msg%00/deliveries'],
    ['GET', '/deliveries/dlv%00'],
    ['GET', '/usage/keys/%00'],
    ['POST', '/limit-requests/lr%00/approve'],
    ['DELETE', '/webhooks/ep%00x'],
  ])('%s %s answers 400 naming the path parameter', async (method, path) => {
    const before = await snapshot();
    expect400(await stack.rest(method, path), /^path parameter id: contains a NUL character/, 'id');
    expect(await snapshot()).toBe(before);
  });

  it.each([
    ['POST', () => '/webhooks', () => ({ url: 'http://127.0.0.1:9/x', description: 'a\u0000b' }), 'description'],
    ['PATCH', () => `/webhooks/${endpointId}`, () => ({ description: 'a\u0000b' }), 'description'],
    ['POST', () => '/event-types', () => ({ name: 'fuzz.nul', description: '\u0000' }), 'description'],
    ['POST', () => '/events', () => ({ type: 'order.paid', payload: { note: 'a\u0000b' } }), 'payload.note'],
    ['POST', () => '/api-keys', () => ({ id: 'nul-meta', metadata: { team: 'a\u0000' } }), 'metadata.team'],
    ['POST', () => '/api-keys/target/limit-requests', () => ({ limit_name: 'burst', requested_limit: 5, window_seconds: 1, reason: 'please\u0000' }), 'reason'],
    // Declares no body, but reads an optional one: checked all the same.
    ['POST', () => `/limit-requests/${limitRequestId}/decline`, () => ({ note: 'no\u0000' }), 'note'],
    ['POST', () => '/v1/usage', () => ({ records: [{ method: 'GET', route: '/a\u0000', status: 200, latency_ms: 1 }] }), 'records.0.route'],
  ])('%s %s: a NUL in a body string is a 400 naming the field', async (method, path, body, field) => {
    const before = await snapshot();
    expect400(await stack.rest(method, path(), { body: body() }), new RegExp(`^${field.replace('.', '\\.')}: contains a NUL character`), field);
    expect(await snapshot()).toBe(before);
  });

  it('a lone surrogate in a value or a field name is a 400; a well-formed pair is fine', async () => {
    const before = await snapshot();
    expect400(await stack.rest('POST', '/api-keys', { body: { id: 'lone', name: 'x\ud800' } }), /^name: contains a lone UTF-16 surrogate/, 'name');
    expect400(await stack.rest('POST', '/events', { body: { type: 'order.paid', payload: { ['\udc00']: 1 } } }), /^payload: a field name contains a lone UTF-16 surrogate/, 'payload');
    // A NUL in a field name: the name is not repeated back.
    const res = await stack.rest('POST', '/api-keys', { body: '{"id":"nul-key","metadata":{"a\\u0000b":1}}' });
    expect400(res, /^metadata: a field name contains a NUL character/, 'metadata');
    expect(await snapshot()).toBe(before);
    expect((await stack.rest('POST', '/api-keys', { body: { id: 'pair', name: 'key 🔑' } })).status).toBe(201);
  });
});

describe('nesting depth', () => {
  it('metadata and payload nested 50,000 deep are a 400 that says so', async () => {
    const before = await snapshot();
    expect400(await stack.rest('POST', '/api-keys', { body: `{"id":"deep","metadata":{"d":${nested(50_000)}}}` }), /^metadata: nested deeper than 32 levels$/, 'metadata');
    expect400(await stack.rest('POST', '/events', { body: `{"type":"order.paid","payload":{"d":${nested(50_000)}}}` }), /^payload: nested deeper than 32 levels$/, 'payload');
    expect400(await stack.rest('PATCH', '/api-keys/target', { body: nested(50_000) }), /^body: nested deeper than 32 levels$/);
    expect(await snapshot()).toBe(before);
  });

  it('32 levels, the body itself included, are accepted; 33 are not', async () => {
    // The body is level 1 and metadata level 2: 30 more arrays inside make 32.
    const at = (levels: number) => `{"metadata":{"d":${nested(levels - 2)}}}`;
    expect((await stack.rest('PATCH', '/api-keys/target', { body: at(32) })).status).toBe(200);
    expect400(await stack.rest('PATCH', '/api-keys/target', { body: at(33) }), /^metadata: nested deeper than 32 levels$/, 'metadata');
  });
});

describe('page cursors out of range', () => {
  it.each([
    ['/logs', cursor(['2026-01-01T00:00:00.000Z', '9999999999999999999'])],
    ['/logs', cursor(['-271821-04-20T00:00:00.000Z', '1'])],
    ['/api-keys', cursor(['2024-13-45T25:61:61.000000Z', 'x'])],
    ['/audit-log', cursor(['0000-01-01T00:00:00.000000Z', 'x'])],
    ['/events', cursor(['2024-01-01T00:00:00.000000Z', 'a\u0000b'])],
  ])('GET %s with a cursor that decodes out of range is a 400 naming cursor', async (path, value) => {
    expect400(await stack.rest('GET', `${path}?cursor=${value}`), /^cursor: not a cursor this API returned/, 'cursor');
  });
});

describe('tRPC', () => {
  async function call(path: string, input: string, method: 'GET' | 'POST' = 'POST') {
    const headers = { 'x-api-key': stack.bootstrapKey, 'content-type': 'application/json' };
    const res = await (method === 'POST'
      ? fetch(`${stack.url}/trpc/${path}`, { method, headers, body: input })
      : fetch(`${stack.url}/trpc/${path}?input=${encodeURIComponent(input)}`, { headers }));
    return { status: res.status, body: (await res.json()) as { error?: { message: string; data: { code: string; field?: string } } } };
  }

  it.each([
    ['keys.create', `{"id":"deep","metadata":{"d":${nested(50_000)}}}`, /^metadata: nested deeper than 32 levels$/, 'metadata'],
    ['events.publish', `{"type":"order.paid","payload":${nested(50_000)}}`, /^payload: nested deeper than 32 levels$/, 'payload'],
    ['keys.update', '{"id":"target","patch":{"name":"a\\u0000"}}', /^patch\.name: contains a NUL character/, 'patch.name'],
    ['webhooks.create', '{"url":"http://127.0.0.1:9/x","description":"\\ud800"}', /^description: contains a lone UTF-16 surrogate/, 'description'],
    ['workspaces.create', '{"id":"nul","name":"a\\u0000"}', /^name: contains a NUL character/, 'name'],
  ])('%s refuses hostile input with BAD_REQUEST naming the field', async (path, input, message, field) => {
    const before = await snapshot();
    const res = await call(path, input);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error?.data.code).toBe('BAD_REQUEST');
    expect(res.body.error?.message).toMatch(message);
    expect(res.body.error?.data.field).toBe(field);
    expect(await snapshot()).toBe(before);
  });

  it('reads its own bodies with the same size limit, and refuses broken JSON with 400', async () => {
    expect((await call('keys.create', JSON.stringify({ id: 'big', metadata: { x: 'y'.repeat(400_000) } }))).status).toBe(413);
    expect((await call('keys.create', '{"id": ')).status).toBe(400);
  });

  it.each([
    ['keys.list', '{"search":"a\\u0000"}', /^search: contains a NUL character/],
    ['logs.search', `{"cursor":"${cursor(['2026-01-01T00:00:00.000Z', '9999999999999999999'])}"}`, /^cursor: not a cursor/],
    ['webhooks.get', '{"id":"ep\\u0000"}', /^id: contains a NUL character/],
    ['audit.list', `{"action":${nested(1_000)}}`, /^action: nested deeper than 32 levels$/],
  ])('query %s refuses hostile input with BAD_REQUEST', async (path, input, message) => {
    const res = await call(path, input, 'GET');
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error?.message).toMatch(message);
  });
});
