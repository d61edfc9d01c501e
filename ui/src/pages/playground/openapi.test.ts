import { describe, expect, it } from 'vitest';
import { curlOf, routesOf } from './openapi.js';

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
});
