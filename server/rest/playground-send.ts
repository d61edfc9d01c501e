import type { Response } from 'express';
import { z } from 'zod';
import { badRequest } from '../../core/errors.js';
import { isHeaderName } from '../../core/provider-api/document.js';
import { findOperation, operationsOf } from '../../core/provider-api/operations.js';
import { SEND_TIMEOUT_MS, sendToProvider } from '../../core/provider-api/send.js';
import { requireProviderApi } from '../../core/provider-api/service.js';
import type { Context } from '../context.js';
import type { UsageLocals } from '../usage-middleware.js';
import { defineRoute } from './route.js';

const Text = z.string().max(8192, 'at most 8192 characters');

const SendBody = z
  .strictObject({
    operation_id: z.string().min(1).max(256).optional().meta({ description: "The operation's operationId; or give method and path." }),
    method: z.enum(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE']).optional(),
    path: z.string().startsWith('/', 'expected a path of the document, starting with /').max(2048).optional().meta({ description: 'A path of the document, as its template (`/things/{id}`) or filled in (`/things/42`).', example: '/things/{id}' }),
    path_params: z.record(z.string().max(256), Text).default({}),
    query: z.record(z.string().max(256), z.union([Text, z.array(Text).max(50)])).default({}),
    headers: z
      .record(z.string(), Text)
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers)) {
          if (!isHeaderName(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not a header the proxy forwards (hop-by-hop, host, cookie and content-length headers are its own)' });
        }
      })
      .optional()
      .meta({ description: 'Extra request headers; hop-by-hop, cookie and host headers are refused, the key header is set by the proxy.' }),
    body: z.unknown().optional().meta({ description: 'JSON, sent serialised; a string is sent as it is.' }),
    key: z.string().min(1, 'expected the secret of one of your keys').max(512, 'at most 512 characters').meta({ description: "A key of the caller's workspace: sent in the header the document names, never logged or echoed." }),
    timeout_ms: z.number().int().min(1).max(SEND_TIMEOUT_MS).optional().meta({ description: `Give up after this long (default and most ${SEND_TIMEOUT_MS / 1000} s).` }),
  })
  .refine((b) => b.operation_id !== undefined || (b.method !== undefined && b.path !== undefined), { message: 'give operation_id, or method and path', path: ['operation_id'] })
  .meta({ id: 'PlaygroundSend' });

const SendResponse = z
  .object({
    status: z.number().int().meta({ description: "The provider's API's status." }),
    headers: z.record(z.string(), z.string()).meta({ description: 'Its response headers, hop-by-hop and cookie headers dropped.' }),
    duration_ms: z.number().int(),
    body: z.string().meta({ description: 'Its body as text, at most 1 MB.' }),
    truncated: z.boolean().meta({ description: 'True when the body was longer than 1 MB and was cut there.' }),
    request: z
      .object({ method: z.string(), url: z.string(), headers: z.record(z.string(), z.string()) })
      .meta({ description: 'What was sent, the key masked.' }),
  })
  .meta({ id: 'PlaygroundSendResult' });

/** The key must be an active key of the caller's workspace: the playground acts as the customer's own keys only. */
async function workspaceKeyId(ctx: Context & { principal: NonNullable<Context['principal']> }, secret: string): Promise<string> {
  const found = ctx.verifier.lookup(secret);
  const record = found instanceof Promise ? await found : found;
  const active = record && !record.revoked && record.enabled && (record.expiresAt === null || record.expiresAt > Date.now());
  // One answer for unknown, another workspace's and inactive keys: the playground is no oracle for keys.
  if (!active || record.workspaceId !== ctx.principal.workspaceId) {
    throw badRequest("key: not an active key of this workspace (it is unknown, another workspace's, revoked, disabled or expired)", 'key');
  }
  return record.id;
}

/**
 * The call, in the customer's request log under the operation's own method and path, as `ui`
 * (never counted: if the provider's API verifies the key through Gatehouse, that verification is
 * the call's counted record). It replaces the record of POST /playground/send itself.
 */
function recordCall(ctx: Context & { principal: NonNullable<Context['principal']> }, res: Response, call: { keyId: string; method: string; route: string; status: number; latencyMs: number }) {
  (res.locals as UsageLocals).usageRecorded = true;
  ctx.usage.record({ workspaceId: ctx.principal.workspaceId, keyId: call.keyId, source: 'ui', method: call.method, route: call.route.slice(0, 200), status: call.status, latencyMs: call.latencyMs, counted: false });
}

export const playgroundSendRoute = defineRoute({
  method: 'post',
  path: '/playground/send',
  summary: "Send one request to the provider's registered API as one of your keys (the playground's proxy)",
  tags: ['provider API'],
  scope: 'keys:read',
  body: SendBody,
  errors: [404, 502, 504],
  response: SendResponse,
  handler: async ({ ctx, body, res }) => {
    const api = await requireProviderApi(ctx.em);
    const found = findOperation(operationsOf(api.document), { operationId: body.operation_id, method: body.method, path: body.path });
    if (!found) {
      throw body.operation_id !== undefined
        ? badRequest(`operation_id: the registered API has no operation '${body.operation_id.slice(0, 64)}'`, 'operation_id')
        : badRequest(`path: ${body.method} ${body.path!.slice(0, 200)} is not an operation of the registered API`, 'path');
    }
    const { op } = found;
    if (op.body === null && body.body !== undefined) throw badRequest(`body: ${op.method} ${op.path} takes no body`, 'body');
    if (op.body?.required && body.body === undefined) throw badRequest(`body: ${op.method} ${op.path} requires one`, 'body');
    const keyId = await workspaceKeyId(ctx, body.key);
    const started = performance.now();
    try {
      const result = await sendToProvider(
        api,
        {
          op,
          pathParams: { ...found.pathParams, ...body.path_params },
          query: body.query,
          headers: body.headers ?? {},
          body: body.body === undefined ? undefined : typeof body.body === 'string' ? body.body : JSON.stringify(body.body),
          key: body.key,
        },
        { allowCidrs: ctx.config.GATEHOUSE_EGRESS_ALLOW_CIDRS, timeoutMs: body.timeout_ms ?? SEND_TIMEOUT_MS },
      );
      recordCall(ctx, res, { keyId, method: op.method, route: op.path, status: result.status, latencyMs: result.durationMs });
      return { status: result.status, headers: result.headers, duration_ms: result.durationMs, body: result.body, truncated: result.truncated, request: result.request };
    } catch (err) {
      const status = (err as { status?: number }).status;
      // A refusal of the input (400) sent nothing; anything later is a call the customer made.
      if (status !== 400) recordCall(ctx, res, { keyId, method: op.method, route: op.path, status: status ?? 502, latencyMs: performance.now() - started });
      throw err;
    }
  },
});

export const playgroundSendRoutes = [playgroundSendRoute];
