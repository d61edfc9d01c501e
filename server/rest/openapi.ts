import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { ErrorBody, type AnyRoute } from './route.js';

const errorText: Record<number, string> = {
  400: 'Invalid input: the message names the field',
  401: 'Missing or invalid API key',
  403: 'The API key lacks the permission the route needs',
  404: 'Not found in the caller’s workspace',
  409: 'Conflicts with an existing object',
  413: 'Body too large',
  429: 'Rate limited: see RateLimit-* and Retry-After headers',
  500: 'Internal error',
};

/** The OpenAPI 3.1 document, built from the very schemas the routes validate with. */
export function buildOpenApi(routes: AnyRoute[], version: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const statuses = new Set([400, 500, ...(route.scope ? [401, 403, 429] : []), ...(route.errors ?? [])]);
    const responses: Record<string, unknown> = {
      [String(route.status ?? 200)]: { description: 'Success', content: { 'application/json': { schema: route.response } } },
    };
    for (const s of [...statuses].sort()) {
      responses[String(s)] = { description: errorText[s] ?? 'Error', content: { 'application/json': { schema: ErrorBody } } };
    }
    const op: ZodOpenApiOperationObject = {
      operationId: `${route.method}${route.path.replace(/[{}]/g, '').replace(/[/-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      tags: route.tags,
      security: route.scope ? [{ apiKey: [] }] : [],
      requestParams: Object.fromEntries(
        Object.entries({ path: route.params, query: route.query, header: route.headers }).filter(([, v]) => v),
      ),
      requestBody: route.body ? { content: { 'application/json': { schema: route.body } } } : undefined,
      responses: responses as ZodOpenApiOperationObject['responses'],
    };
    paths[route.path] = { ...(paths[route.path] ?? {}), [route.method]: op };
  }
  return createDocument({
    openapi: '3.1.0',
    info: { title: 'Gatehouse API', version, description: 'API keys, webhooks and usage. Authenticate with the x-api-key header.' },
    components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    paths,
  });
}
