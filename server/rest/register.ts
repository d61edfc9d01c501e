import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z, ZodError } from 'zod';
import { hasScope } from '../../core/permissions.js';
import { createRestContext, type ServerDeps } from '../context.js';
import { forbidden, HttpError, unauthorized } from '../../core/errors.js';
import type { AnyRoute, Method } from './route.js';
import { resolvePrincipal } from '../auth/resolve.js';
import { enforceCallerRateLimit } from '../auth/rate-limit.js';
import { markUsage, SELF_COUNTING_ROUTES } from '../usage-middleware.js';
import { trackingKeyChanges } from '../../core/keys/change-scope.js';
import { inputProblem } from '../input-guard.js';
import { JSON_CONTENT_TYPE } from '../security-headers.js';

function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/** `body.rate_limits.0.limit: expected a number` — names the field the caller got wrong. */
type Where = 'body' | 'query' | 'params' | 'headers';

export function zodToHttp(err: ZodError, where: Where): HttpError {
  const issue = err.issues[0]!;
  return fieldError(where, issue.path.map(String).join('.'), issue.message);
}

const LABELS = { params: 'path parameter', query: 'query parameter', headers: 'header' } as const;

function fieldError(where: Where, path: string, message: string): HttpError {
  const label = where === 'body' ? path || 'body' : `${LABELS[where]} ${path}`;
  return new HttpError(400, 'invalid_input', `${label}: ${message}`, path || undefined);
}

/** NUL, lone surrogates and over-deep nesting, refused alike for every route (server/input-guard.ts). */
function guard(value: unknown, where: Where): void {
  const problem = inputProblem(value);
  if (problem) throw fieldError(where, problem.path, problem.message);
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: Where): unknown {
  if (!schema) return where === 'body' ? undefined : {};
  // The body was checked already, whether or not the route declares one.
  if (where !== 'body') guard(value, where);
  const result = schema.safeParse(value);
  if (!result.success) throw zodToHttp(result.error, where);
  return result.data;
}

/**
 * The headers a route declares, validated like its query: each sent at most once (a repeated
 * header is refused rather than guessed at), then parsed by the route's schema. Only declared
 * names are read, so the schema is the contract, not documentation.
 */
function parseHeaders(schema: z.ZodObject, req: Request): unknown {
  const picked: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) {
    const raw = req.headers[name];
    if (Array.isArray(raw)) throw fieldError('headers', name, 'send it once');
    picked[name] = raw;
  }
  return parse(schema, picked, 'headers');
}

/**
 * A route's body as its handler gets it, from what the JSON parser left (undefined: no JSON body
 * was sent). Shared with the verify fast path (server/fast-verify.ts).
 */
export function routeBody(route: AnyRoute, headers: IncomingHttpHeaders, sent: unknown): unknown {
  // No body at all reads as `{}`, so `POST /api-keys/{id}/rotate` needs none when every field has a default.
  // A body sent without Content-Type: application/json is refused, never read as `{}`.
  const sentNothing = !headers['transfer-encoding'] && Number(headers['content-length'] ?? 0) === 0;
  if (route.body && sent === undefined && !(sentNothing && route.body.safeParse({}).success)) {
    throw new HttpError(400, 'invalid_input', 'body: expected a JSON object with Content-Type: application/json');
  }
  // Checked even where the route declares no body: a handler may still read req.body.
  if (sent !== undefined) guard(sent, 'body');
  return parse(route.body, sent ?? (route.body ? {} : undefined), 'body');
}

/**
 * Writes answer no conditional request, so their ETag would be hashed for nothing; the bytes and
 * headers are otherwise what res.json sends (verification's hot path, in Express and the fast path).
 */
export function writeJson(res: ServerResponse, status: number, result: unknown): void {
  const json = JSON.stringify(result);
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/**
 * Registers the REST routes on `target`. Given the app itself rather than a Router mounted with
 * app.use, a request skips one level of router dispatch (a prefix trim and a second `next` chain
 * per request, measurable on verification's hot path); a Router is made when none is given.
 */
export function restRouter(routes: AnyRoute[], deps: ServerDeps, target: Pick<Router, Method> = Router()): Pick<Router, Method> {
  const router = target;
  for (const route of routes) {
    router[route.method](expressPath(route.path), async (req: Request, res: Response, next: NextFunction) => {
      try {
        // The UI's playground calls REST with the session (and the CSRF header on every method).
        const principal = route.scope ? await resolvePrincipal(req, deps, { session: 'rest' }) : undefined;
        markUsage(res, principal, route.path);
        if (route.scope) {
          if (!principal) throw unauthorized();
          await enforceCallerRateLimit(deps.verifier, principal, res, { selfCounting: SELF_COUNTING_ROUTES.has(route.path) });
          if (!hasScope(principal.scopes, route.scope)) throw forbidden(route.scope);
        }
        const params = parse(route.params, req.params, 'params');
        const headers = route.headers ? parseHeaders(route.headers, req) : {};
        // Express 5 parses the query string on first read of req.query: not at all for routes without one.
        const query = route.query ? parse(route.query, req.query, 'query') : {};
        const body = routeBody(route, req.headers, req.body);
        const ctx = createRestContext(deps, principal, req.ip ?? '');
        const { result, changed } = await trackingKeyChanges(() => route.handler({ params, query, body, headers, ctx: ctx as never, req, res }));
        // A write that changed a key or limit is answered once this process has heard that change:
        // the caller's next request never meets the cache as it was (a revoked key stays out).
        if (changed) await deps.verifier.catchUp();
        // A handler that chose its own status (/healthz's 503) keeps it; otherwise the route's.
        if (res.headersSent) return;
        const status = res.statusCode !== 200 ? res.statusCode : (route.status ?? 200);
        if (route.method === 'get' || status === 204 || result === undefined) {
          // res.json's ETag (a SHA-1 of the body) serves conditional GETs; kept where it can.
          res.status(status).json(result);
          return;
        }
        writeJson(res, status, result);
      } catch (err) {
        next(err);
      }
    });
  }
  return router;
}
