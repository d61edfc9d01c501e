import { z } from 'zod';
import { DocumentInvalid } from '../../core/provider-api/document.js';
import { getProviderApi, noApi, registerInput, registerProviderApi, removeProviderApi } from '../../core/provider-api/service.js';
import { actorOf } from '../actor.js';
import { defineRoute } from './route.js';

const TAGS = ['provider API'];

/** PUT /settings/provider-api carries a document of up to 2 MB (JSON-escaped, a little more): its own body limit (server/app.ts). */
export const PROVIDER_API_PATH = '/settings/provider-api';
export const PROVIDER_API_BODY_LIMIT = '3mb';

const ProviderApi = z
  .object({
    title: z.string(),
    version: z.string(),
    base_url: z.string(),
    key_header: z.string().meta({ description: "The header the customer's key is sent in (lowercase)." }),
    key_scheme: z.enum(['header', 'bearer']).meta({ description: '`header`: the key as is; `bearer`: `Authorization: Bearer <key>`.' }),
    operation_count: z.number().int(),
    updated_at: z.string(),
    updated_by: z.string(),
  })
  .meta({ id: 'ProviderApi' });

const snake = (v: NonNullable<Awaited<ReturnType<typeof getProviderApi>>>) => ({
  title: v.title,
  version: v.version,
  base_url: v.baseUrl,
  key_header: v.keyHeader,
  key_scheme: v.keyScheme,
  operation_count: v.operationCount,
  updated_at: v.updatedAt,
  updated_by: v.updatedBy,
});

export const getProviderApiRoute = defineRoute({
  method: 'get',
  path: PROVIDER_API_PATH,
  summary: "The provider's API registered for the customers' playground (operators only)",
  tags: TAGS,
  scope: 'operator',
  errors: [404],
  response: ProviderApi,
  handler: async ({ ctx }) => {
    const found = await getProviderApi(ctx.em);
    if (!found) throw noApi();
    return snake(found);
  },
});

export const putProviderApiRoute = defineRoute({
  method: 'put',
  path: PROVIDER_API_PATH,
  summary: "Register the provider's API: its OpenAPI 3.0/3.1 document (JSON or YAML text, up to 2 MB) and base URL (operators only)",
  tags: TAGS,
  scope: 'operator',
  body: z
    .strictObject({
      document: registerInput.shape.document.meta({ description: 'The OpenAPI document as text. External `$ref`s are refused, never fetched.' }),
      base_url: registerInput.shape.baseUrl.meta({ description: 'Where the playground sends requests; checked by the egress guard on every send.', example: 'https://api.example.com' }),
      key_header: registerInput.shape.keyHeader.meta({ description: "Overrides the header the document's security scheme names (default x-api-key when it names none)." }),
    })
    .meta({ id: 'RegisterProviderApi' }),
  errors: [413],
  response: ProviderApi,
  handler: async ({ ctx, body, res }) => {
    try {
      return snake(await registerProviderApi(ctx.em, actorOf(ctx), { document: body.document, baseUrl: body.base_url, keyHeader: body.key_header }));
    } catch (err) {
      if (!(err instanceof DocumentInvalid)) throw err;
      // Every problem, each with its JSON pointer: the error body's usual fields plus `problems`.
      res.status(400).json({ error: { code: err.code, message: err.message, field: err.field, problems: err.problems } });
      return undefined as never;
    }
  },
});

export const deleteProviderApiRoute = defineRoute({
  method: 'delete',
  path: PROVIDER_API_PATH,
  summary: "Remove the registered provider API: the playground offers only Gatehouse's own again (operators only)",
  tags: TAGS,
  scope: 'operator',
  errors: [404],
  response: z.object({ message: z.string().meta({ example: 'Provider API removed' }) }),
  handler: async ({ ctx }) => {
    await removeProviderApi(ctx.em, actorOf(ctx));
    return { message: 'Provider API removed' };
  },
});

export const providerApiRoutes = [getProviderApiRoute, putProviderApiRoute, deleteProviderApiRoute];
