import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { routes } from '../../server/rest/index.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The provider's API in the playground (issue #13 item 4), over the real stack: registration by an
 * operator, the operations list, and POST /playground/send to an upstream on 127.0.0.2, the one
 * address GATEHOUSE_EGRESS_ALLOW_CIDRS opens here (so `localhost` and 127.0.0.1 stay refused).
 */
let stack: Stack;
let ws: { workspaceId: string; secret: string; keyId: string };
let upstream: http.Server;
let base: string;
const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const path = req.url!.split('?')[0];
      if (path === '/v1/slow') return; // never answers
      if (path === '/v1/redirect') return res.writeHead(302, { location: `${base}/things/elsewhere` }).end();
      if (path === '/v1/big') return res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(2 * 1024 * 1024));
      if (path === '/v1/schema.json') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"type":"string"}');
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'set-cookie': 'upstream=1', 'x-request-id': 'req_1' });
      res.end(JSON.stringify({ ok: true, path }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.2', r));
  base = `http://127.0.0.2:${(upstream.address() as AddressInfo).port}/v1`;
  stack = await startStack({ worker: false, env: { GATEHOUSE_EGRESS_ALLOW_CIDRS: '127.0.0.2/32' } });
  ws = await stack.workspace(['read-only']);
});
afterAll(async () => {
  upstream?.closeAllConnections();
  upstream?.close();
  await stack?.close();
});

const thing = { type: 'object', required: ['name'], properties: { name: { type: 'string', example: 'lamp' }, size: { type: 'integer' }, parent: { $ref: '#/components/schemas/Thing' } } };
const ok = { '200': { description: 'ok' } };
const doc30 = {
  openapi: '3.0.3',
  info: { title: 'Descriptra API', version: '2.1.0' },
  tags: [{ name: 'things' }, { name: 'misc' }],
  security: [{ descKey: [] }],
  components: { securitySchemes: { descKey: { type: 'apiKey', in: 'header', name: 'X-Descriptra-Key' } }, schemas: { Thing: thing } },
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        tags: ['things'],
        summary: 'One thing',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'verbose', in: 'query', schema: { type: 'boolean' } },
        ],
        responses: ok,
      },
    },
    '/things': { post: { operationId: 'createThing', tags: ['things'], requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } }, responses: ok } },
    '/redirect': { get: { operationId: 'redirect', tags: ['misc'], responses: ok } },
    '/big': { get: { operationId: 'big', tags: ['misc'], responses: ok } },
    '/slow': { get: { operationId: 'slow', tags: ['misc'], responses: ok } },
  },
};

const register = (body: Record<string, unknown>, key?: string) => stack.rest('PUT', '/settings/provider-api', { body, key });
const send = (body: Record<string, unknown>, key?: string) => stack.rest('POST', '/playground/send', { body, key: key ?? ws.secret });
const registered = async () => expect((await register({ document: JSON.stringify(doc30), base_url: base })).status).toBe(200);

describe('registering the provider API', () => {
  it('takes OpenAPI 3.0 as JSON and 3.1 as YAML, with the key header from the security scheme', async () => {
    const json = await register({ document: JSON.stringify(doc30), base_url: base });
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ title: 'Descriptra API', version: '2.1.0', base_url: base, key_header: 'x-descriptra-key', key_scheme: 'header', operation_count: 5 });
    expect((await stack.rest('GET', '/settings/provider-api')).body).toMatchObject({ title: 'Descriptra API', operation_count: 5 });

    const doc31 = { ...doc30, openapi: '3.1.0', security: [{ bearer: [] }], components: { ...doc30.components, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } };
    const yaml = await register({ document: toYaml(doc31), base_url: base });
    expect(yaml.status).toBe(200);
    expect(yaml.body).toMatchObject({ key_header: 'authorization', key_scheme: 'bearer', operation_count: 5 });

    // No security scheme: x-api-key, unless the operator names another header.
    const plain = { ...doc30, security: undefined, components: { schemas: { Thing: thing } } };
    expect((await register({ document: JSON.stringify(plain), base_url: base })).body).toMatchObject({ key_header: 'x-api-key', key_scheme: 'header' });
    expect((await register({ document: JSON.stringify(plain), base_url: base, key_header: 'X-Custom-Key' })).body).toMatchObject({ key_header: 'x-custom-key' });
  });

  it('reports an invalid document by path, and changes nothing', async () => {
    await registered();
    const broken = { ...doc30, info: { title: 'No version' }, paths: { '/a': { get: { parameters: [{ name: 'q', in: 'query' }], responses: ok } } } };
    const res = await register({ document: JSON.stringify(broken), base_url: base });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_document', field: 'document' });
    expect(res.body.error.problems).toEqual(
      expect.arrayContaining([
        { path: '/info', message: "must have required property 'version'" },
        { path: '/paths/~1a/get/parameters/0', message: expect.stringContaining('schema') },
      ]),
    );
    expect((await stack.rest('GET', '/settings/provider-api')).body.title).toBe('Descriptra API');

    const swagger = await register({ document: JSON.stringify({ swagger: '2.0', info: { title: 't', version: '1' }, paths: {} }), base_url: base });
    expect(swagger.body.error.problems).toEqual([{ path: '/swagger', message: expect.stringMatching(/Swagger 2\.0 is not supported/) }]);
    const notYaml = await register({ document: 'openapi: [3.1', base_url: base });
    expect(notYaml.body.error).toMatchObject({ field: 'document', message: expect.stringMatching(/not valid JSON or YAML/) });
    const ftp = await register({ document: JSON.stringify(doc30), base_url: 'ftp://files.example.com' });
    expect(ftp.body.error).toMatchObject({ field: 'base_url' });
    const huge = await register({ document: `${JSON.stringify(doc30)}${' '.repeat(2 * 1024 * 1024)}`, base_url: base });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatchObject({ field: 'document', message: expect.stringMatching(/2 MB/) });
  });

  it('refuses an external $ref by its path and fetches nothing', async () => {
    const before = seen.length;
    const external = { ...doc30, components: { ...doc30.components, schemas: { Thing: { $ref: `${base}/schema.json` } } } };
    const res = await register({ document: JSON.stringify(external), base_url: base });
    expect(res.status).toBe(400);
    expect(res.body.error.problems).toEqual([{ path: '/components/schemas/Thing/$ref', message: expect.stringMatching(/external reference .* is not fetched/) }]);
    const file = await register({ document: JSON.stringify({ ...doc30, paths: { '/x': { $ref: './paths.yaml#/x' } } }), base_url: base });
    expect(file.body.error.problems).toEqual([{ path: '/paths/~1x/$ref', message: expect.stringMatching(/external reference/) }]);
    expect(seen.length).toBe(before);
  });

  it('is the operator’s alone: a workspace key gets 403 over REST and tRPC', async () => {
    const admin = await stack.workspace(['admin']);
    expect((await register({ document: JSON.stringify(doc30), base_url: base }, admin.secret)).status).toBe(403);
    expect((await stack.rest('GET', '/settings/provider-api', { key: admin.secret })).status).toBe(403);
    expect((await stack.rest('DELETE', '/settings/provider-api', { key: admin.secret })).status).toBe(403);
    const caller = await stack.caller(admin.secret);
    await expect(caller.providerApi.register({ document: JSON.stringify(doc30), baseUrl: base })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(caller.providerApi.remove()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Every route of the resource is scoped to operators in the route table.
    expect(routes.filter((r) => r.path === '/settings/provider-api').map((r) => r.scope)).toEqual(['operator', 'operator', 'operator']);
  });
});

describe('the playground’s operations', () => {
  it('lists the operations by tag for a workspace, with parameters and the body schema', async () => {
    await registered();
    const api = await (await stack.caller(ws.secret)).providerApi.operations();
    expect(api).toMatchObject({ title: 'Descriptra API', baseUrl: base, keyHeader: 'x-descriptra-key' });
    expect(api!.groups.map((g) => [g.tag, g.operations.map((o) => o.operationId)])).toEqual([
      ['things', ['getThing', 'createThing']],
      ['misc', ['redirect', 'big', 'slow']],
    ]);
    const [get, create] = api!.groups[0]!.operations;
    expect(get!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, type: 'string', description: '' },
      { name: 'verbose', in: 'query', required: false, type: 'boolean', description: '' },
    ]);
    expect(create!.body).toEqual({ required: true, contentType: 'application/json', schema: { $ref: '#/components/schemas/Thing' } });
    expect(api!.components).toMatchObject({ schemas: { Thing: thing } });
  });
});

describe('POST /playground/send', () => {
  it('sends the key in the header the document names, the path, query and body, and records the call', async () => {
    await registered();
    const before = seen.length;
    const res = await send({ operation_id: 'getThing', path_params: { id: 'a b/../c' }, query: { verbose: 'true' }, headers: { 'X-Trace': 'abc', 'X-Descriptra-Key': 'not-this-one' }, key: ws.secret });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 200, truncated: false, body: JSON.stringify({ ok: true, path: '/v1/things/a%20b%2F..%2Fc' }) });
    expect(res.body.headers['x-request-id']).toBe('req_1');
    expect(res.body.headers['set-cookie']).toBeUndefined();
    const got = seen.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ method: 'GET', url: '/v1/things/a%20b%2F..%2Fc?verbose=true' });
    // The key goes in the document's header, whatever the caller put there; other headers pass.
    expect(got[0]!.headers['x-descriptra-key']).toBe(ws.secret);
    expect(got[0]!.headers['x-trace']).toBe('abc');
    // The summary shows the key masked, never the secret.
    expect(JSON.stringify(res.body)).not.toContain(ws.secret);
    expect(res.body.request.headers['x-descriptra-key']).toMatch(/\*\*\*$/);

    const created = await send({ method: 'POST', path: '/things', body: { name: 'lamp', size: 3 }, key: ws.secret });
    expect(created.body.status).toBe(201);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/things', body: '{"name":"lamp","size":3}' });
    expect(seen.at(-1)!.headers['content-type']).toBe('application/json');

    // A concrete path matches its template too.
    expect((await send({ method: 'GET', path: '/things/42', key: ws.secret })).body.status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/v1/things/42');

    await stack.deps.usage.flush();
    const logs = await (await stack.caller(ws.secret)).logs.search({ source: 'ui', route: '/things/{id}' });
    expect(logs.entries[0]).toMatchObject({ method: 'GET', route: '/things/{id}', status: 200, keyId: ws.keyId, source: 'ui' });
  });

  it('refuses paths outside the document, other hosts, redirects, loopback by name, big answers and slow ones', async () => {
    await registered();
    const before = seen.length;
    for (const path of ['/admin', '/things/1/delete', '//evil.example/things', 'http://evil.example/things', '/things/../admin']) {
      const res = await send({ method: 'GET', path, key: ws.secret });
      expect(res.status, path).toBe(400);
      expect(res.body.error.field, path).toBe('path');
    }
    expect((await send({ method: 'DELETE', path: '/things/{id}', path_params: { id: '1' }, key: ws.secret })).body.error.field).toBe('path');
    expect((await send({ operation_id: 'nope', key: ws.secret })).body.error.field).toBe('operation_id');
    expect((await send({ operation_id: 'getThing', path_params: { id: '..' }, key: ws.secret })).body.error.field).toBe('path_params.id');
    const cookie = await send({ operation_id: 'getThing', path_params: { id: '1' }, headers: { Cookie: 'session=1' }, key: ws.secret });
    expect(cookie.body.error).toMatchObject({ field: 'headers.Cookie', message: expect.stringMatching(/not a header the proxy forwards/) });
    expect(seen.length).toBe(before);

    const redirect = await send({ operation_id: 'redirect', key: ws.secret });
    expect(redirect.status).toBe(502);
    expect(redirect.body.error).toMatchObject({ code: 'upstream_redirect', message: expect.stringMatching(/answered 302.*does not follow redirects/) });
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/v1/redirect']);

    const big = await send({ operation_id: 'big', key: ws.secret });
    expect(big.body).toMatchObject({ status: 200, truncated: true });
    expect(big.body.body.length).toBe(1024 * 1024);

    const slow = await send({ operation_id: 'slow', key: ws.secret, timeout_ms: 300 });
    expect(slow.status).toBe(504);
    expect(slow.body.error.code).toBe('upstream_timeout');

    // Loopback by name and by literal: the egress guard refuses before any byte is sent.
    const port = new URL(base).port;
    for (const [url, why] of [
      [`http://localhost:${port}/v1`, /localhost does not resolve to a public address/],
      [`http://127.0.0.1:${port}/v1`, /127\.0\.0\.1 is a loopback address/],
    ] as const) {
      expect((await register({ document: JSON.stringify(doc30), base_url: url })).status).toBe(200);
      const refused = await send({ operation_id: 'getThing', path_params: { id: '1' }, key: ws.secret });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'egress_refused', field: 'base_url', message: expect.stringMatching(why) });
    }
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/v1/redirect', '/v1/big', '/v1/slow']);
  });

  it('takes only an active key of the caller’s workspace', async () => {
    await registered();
    const other = await stack.workspace(['read-only']);
    const before = seen.length;
    const foreign = await send({ operation_id: 'getThing', path_params: { id: '1' }, key: other.secret });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toMatchObject({ field: 'key', message: expect.stringMatching(/not an active key of this workspace/) });
    const admin = await stack.workspace(['admin']);
    const made = await stack.rest('POST', '/api-keys', { key: admin.secret, body: { id: 'to-revoke', name: 'To revoke' } });
    expect((await stack.rest('POST', '/api-keys/to-revoke/revoke', { key: admin.secret })).status).toBe(200);
    const revoked = await send({ operation_id: 'getThing', path_params: { id: '1' }, key: made.body.api_key }, admin.secret);
    expect(revoked.body.error).toMatchObject({ field: 'key' });
    expect(seen.length).toBe(before);
  });

  it('a read-only portal session may send but not register', async () => {
    await registered();
    const minted = await stack.rest('POST', '/portal/sessions', { body: { workspace_id: ws.workspaceId, user: { id: 'u_ro', email: 'ro@customer.example', name: 'Reader' }, role: 'read-only' } });
    const entered = await fetch(minted.body.url, { redirect: 'manual' });
    const cookie = entered.headers.get('set-cookie')!.split(';')[0]!;
    const asSession = (method: string, path: string, body: unknown) =>
      fetch(`${stack.url}${path}`, { method, headers: { cookie, 'x-gatehouse-csrf': '1', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const sent = await asSession('POST', '/playground/send', { operation_id: 'getThing', path_params: { id: '7' }, key: ws.secret });
    expect(sent.status).toBe(200);
    expect(((await sent.json()) as { status: number }).status).toBe(200);
    expect((await asSession('PUT', '/settings/provider-api', { document: JSON.stringify(doc30), base_url: base })).status).toBe(403);
  });
});
