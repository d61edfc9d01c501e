import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { CATALOG_EVENT_TYPES, EVENT_CATALOG } from '../../core/events/catalog.js';
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

const signatureHeaders = z.object({
  'webhook-id': z.string().meta({ description: 'The event id: the same on every retry, so a receiver can drop repeats.', example: 'msg_5b1c9e2d7a0f3c4b8e6d1a20' }),
  'webhook-timestamp': z.string().meta({ description: 'Seconds since the epoch when this attempt was signed.', example: '1764504000' }),
  'webhook-signature': z.string().meta({
    description: 'Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per active signing secret (Standard Webhooks).',
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  }),
});

/**
 * One OpenAPI 3.1 `webhooks` entry per catalog event type: the POST Gatehouse makes to a subscribed
 * endpoint, its body the envelope around the type's payload schema.
 */
function catalogWebhooks(): ZodOpenApiPathsObject {
  const webhooks: ZodOpenApiPathsObject = {};
  for (const type of CATALOG_EVENT_TYPES) {
    const entry = EVENT_CATALOG[type];
    const envelope = z.object({
      type: z.literal(type),
      timestamp: z.iso.datetime().meta({ description: 'When the event was stored.' }),
      data: entry.schema,
    });
    webhooks[type] = {
      post: {
        operationId: `${type.replace(/[._-](\w)/g, (_, c: string) => c.toUpperCase())}Webhook`,
        summary: entry.description,
        tags: ['webhooks'],
        requestParams: { header: signatureHeaders },
        requestBody: {
          content: { 'application/json': { schema: envelope, example: { type, timestamp: '2026-11-30T12:00:00.000Z', data: entry.example } } },
        },
        responses: {
          '200': { description: 'Received: any 2xx ends the delivery; anything else (3xx included) is retried, 410 Gone disables the endpoint' },
        },
      },
    };
  }
  return webhooks;
}

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
    webhooks: catalogWebhooks(),
  });
}
