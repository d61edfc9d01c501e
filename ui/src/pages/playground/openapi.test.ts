import { describe, expect, it } from 'vitest';
import { curlOf, exampleOf, refusalOf, routesOf } from './openapi.js';

describe('playground helpers', () => {
  it('flattens an OpenAPI document into method + path choices with their parameters and example body', () => {
    const routes = routesOf({
      paths: {
        '/api-keys': { get: { summary: 'List keys' }, post: { summary: 'Create a key', requestBody: { content: { 'application/json': { schema: { example: { id: 'mi-api-key-1' } } } } } } },
        '/api-keys/{apiKeyId}': { delete: { summary: 'Delete a key' } },
      },
    });
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api-keys', 'POST /api-keys', 'DELETE /api-keys/{apiKeyId}']);
    expect(routes[1]).toMatchObject({ hasBody: true, example: { id: 'mi-api-key-1' } });
    expect(routes[2]!.params).toEqual(['apiKeyId']);
  });

  it('writes a cURL command that reads the key from the environment and quotes the body safely', () => {
    const curl = curlOf({ method: 'POST', url: 'http://localhost:3000/api-keys', body: `{"name":"it's"}` });
    expect(curl).toContain(`curl -i -X POST 'http://localhost:3000/api-keys'`);
    expect(curl).toContain('-H "x-api-key: $GATEHOUSE_API_KEY"');
    expect(curl).toContain(`--data '{"name":"it'\\''s"}'`);
  });

  it("prefills a body from the route's schema: examples, required fields, references followed", () => {
    const doc = {
      components: {
        schemas: {
          RateLimit: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 }, window_seconds: { type: 'integer', example: 60 } }, required: ['limit'] },
        },
      },
    };
    const schema = {
      type: 'object',
      required: ['key', 'rate_limits', 'environment'],
      properties: {
        key: { type: 'string', example: 'gate_sk_live_…' },
        environment: { type: 'string', enum: ['live', 'test'] },
        rate_limits: { type: 'array', items: { $ref: '#/components/schemas/RateLimit' } },
        ip: { anyOf: [{ type: 'null' }, { type: 'string', example: '203.0.113.7' }] },
        cost: { type: 'integer', minimum: 0 },
        permission: { type: 'string', example: 'products:write' },
      },
    };
    expect(exampleOf(schema, doc)).toEqual({ key: 'gate_sk_live_…', environment: 'live', rate_limits: [{ limit: 1, window_seconds: 60 }], permission: 'products:write' });
    const routes = routesOf({ paths: { '/v1/keys/verify': { post: { requestBody: { content: { 'application/json': { schema } } } } } }, ...doc });
    expect(routes[0]!.example).toMatchObject({ key: 'gate_sk_live_…', permission: 'products:write' });
  });

  it('reads a verification answered 200 with valid:false as a refusal, and nothing else', () => {
    expect(refusalOf('{"valid":false,"code":"RATE_LIMITED","key_id":"k"}')).toEqual({ code: 'RATE_LIMITED' });
    expect(refusalOf(JSON.stringify({ valid: false }, null, 2))).toEqual({ code: undefined });
    expect(refusalOf('{"valid":true}')).toBeUndefined();
    expect(refusalOf('{"api_keys":[]}')).toBeUndefined();
    expect(refusalOf('not json')).toBeUndefined();
  });
});
