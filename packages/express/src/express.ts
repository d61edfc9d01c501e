// `import { gatehouse } from '@gatehouse/express'`: protects an Express API with Gatehouse keys or
// Gatehouse-issued OAuth access tokens and reports every response's status and latency back to
// Gatehouse. The decisions are guard.ts's; this file reads Express's request and writes its response.
import { subscribe } from 'node:diagnostics_channel';
import { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createGuard, type Decision, type GuardOptions, type UsageReport } from './guard.js';
import { isoAt } from './iso-time.js';

export type { Decision, GatehouseVerification, Guard, GuardOptions, GuardRequest, UsageReport } from './guard.js';
export { createGuard } from './guard.js';

export interface GatehouseOptions extends GuardOptions {
  /** Permission (or expression such as `a AND b`) the caller's key must hold; per request when a function. */
  permission?: string | ((req: Request) => string | undefined);
  /** Credits to charge per request (default 1; Gatehouse's default when omitted). */
  cost?: number | ((req: Request) => number | undefined);
}

export interface GatehouseMiddleware extends RequestHandler {
  /** Sends every buffered report now. */
  flush(): Promise<void>;
  /** Stops the timer and sends what is left: call on shutdown. */
  close(): Promise<void>;
}

interface RouteLayer {
  route?: { path: unknown; _handlesMethod?: (method: string) => boolean };
  match?: (path: string) => unknown;
}

/**
 * The pattern of the app route a request was (or would have been) handled by. A request the
 * middleware refused never reached a route, so the app's top-level routes are matched against
 * its path; routes inside nested routers are found only once routed.
 */
function routePattern(req: Request): string {
  const routed = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routed === 'string') {
    // At the app's top level the route's own path string is the key: the same string every time,
    // whose hash V8 keeps, so no string is built or hashed per response.
    const base = req.baseUrl;
    return routedPattern(base ? `${base}${routed}` : routed);
  }
  try {
    const stack = (req.app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack ?? [];
    const path = new URL(req.originalUrl, 'http://local').pathname;
    for (const layer of stack) {
      if (!layer.route || typeof layer.route.path !== 'string' || !layer.match?.(path)) continue;
      if (layer.route._handlesMethod && !layer.route._handlesMethod(req.method)) continue;
      return routedPattern(layer.route.path);
    }
  } catch {
    // Express internals changed shape: fall through to "unmatched" rather than record a raw path.
  }
  return '(unmatched)';
}

/** `/products/:id` → `/products/{id}`, the style Gatehouse records routes in. */
const pattern = (p: string) => p.replace(/:(\w+)/g, '{$1}') || '/';

/** An app has a fixed set of routes: each one's pattern is worked out once, not per response. Bounded. */
const routedPatterns = new Map<string, string>();
function routedPattern(path: string): string {
  let p = routedPatterns.get(path);
  if (p === undefined) {
    p = pattern(path).slice(0, 200);
    if (routedPatterns.size >= 1_000) routedPatterns.clear();
    routedPatterns.set(path, p);
  }
  return p;
}

/**
 * The caller's address as Express's `req.ip` reads it (the app's trust proxy setting), IPv4-mapped
 * IPv6 (`::ffff:10.0.0.1`) as the IPv4 address allowlists are written in. With no X-Forwarded-For
 * header every trust setting reads the socket's address, so that is read directly: `req.ip` parses
 * the forwarding chain on every read.
 */
function clientIp(req: Request): string | undefined {
  const ip = req.headers['x-forwarded-for'] === undefined ? req.socket.remoteAddress : req.ip;
  if (!ip) return undefined;
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** A guarded response's report until it is sent, and the guard's sink that takes it then. */
type Pending = UsageReport & { sink: (r: UsageReport) => void };

/**
 * Each guarded response's pending report, on the response under a symbol: one property store. A
 * WeakMap keyed by the response, tried instead, cost ~1.7 µs a response (giving each response an
 * identity hash), about half the guard's own code (profiled on Node 24 in BENCHMARKS.md).
 */
const PENDING = Symbol('gatehouse.report');
type Reported = Response & { [PENDING]?: Pending };

/**
 * Completes and hands on a guarded response's report once it is sent: one subscriber to Node's
 * `http.server.response.finish` channel for every response of the process, rather than a
 * `finish` listener and its closure added to each (measured in BENCHMARKS.md).
 */
function onFinished(message: unknown): void {
  const { request, response } = message as { request: Request; response: Reported };
  const report = response[PENDING];
  if (report === undefined) return;
  // Once per response, however many guards (or listeners, off the channel) saw it.
  response[PENDING] = undefined;
  const now = performance.now();
  report.route = routePattern(request);
  report.status = response.statusCode;
  report.latency_ms = Math.round((now - report.latency_ms) * 100) / 100;
  report.time = isoAt(now);
  report.sink(report);
}
let subscribed = false;
/**
 * Node's own http server publishes every response's end on that channel; other runtimes' node:http
 * (Bun's, Deno's) and other servers (HTTP/2's compatibility API) may not, and there a guarded
 * response gets a `finish` listener of its own instead.
 */
const CHANNEL_RUNTIME = !('bun' in process.versions) && !('deno' in process.versions);

/**
 * Whether a response's end is published on the channel: decided once per prototype (an Express
 * app's responses share one), since `instanceof` walks the chain Express lengthened on every call.
 */
let lastProto: unknown;
let lastPublishes = false;
function publishesFinish(res: Response): boolean {
  const proto = Object.getPrototypeOf(res) as unknown;
  if (proto !== lastProto) {
    lastProto = proto;
    lastPublishes = CHANNEL_RUNTIME && res instanceof ServerResponse;
  }
  return lastPublishes;
}

/**
 * Express middleware: answers 401/403/429 itself (RateLimit-* headers included), lets valid
 * requests through with the verification in `res.locals.gatehouse`, and reports each response's
 * status and latency to `POST /v1/usage` in batches. Gatehouse unreachable: 503 unless `failOpen`.
 */
export function gatehouse(opts: GatehouseOptions): GatehouseMiddleware {
  const guard = createGuard(opts);
  if (!subscribed) {
    subscribe('http.server.response.finish', onFinished);
    subscribed = true;
  }

  function answer(res: Response, next: NextFunction, report: UsageReport, decision: Decision) {
    for (const name in decision.headers) res.setHeader(name, decision.headers[name]!);
    if (!decision.allow) {
      report.key_id = decision.keyId;
      report.code = decision.code;
      res.status(decision.status).json(decision.body);
      return;
    }
    report.key_id = decision.verification.key_id;
    report.code = decision.verification.code;
    res.locals['gatehouse'] = decision.verification;
    next();
  }

  // Not async: an access token already verified is answered in the same tick, with no promise
  // made per request; only a round trip to Gatehouse returns one (which Express awaits).
  const middleware = ((req: Request, res: Response, next: NextFunction): void | Promise<void> => {
    // The request's usage report, made now with every field in place (one object, one shape),
    // completed by the verification's answer and, once the response is sent, by onFinished.
    // `latency_ms` holds the start until then.
    const start = performance.now();
    const report: Pending = { key_id: null, method: req.method, route: '', status: 0, latency_ms: start, time: '', code: null, sink: guard.report };
    (res as Reported)[PENDING] = report;
    if (!publishesFinish(res)) res.once('finish', () => onFinished({ request: req, response: res }));
    const h = req.headers;
    const apiKey = typeof h['x-api-key'] === 'string' ? h['x-api-key'] : undefined;
    const decision = guard.check({
      apiKey,
      authorization: h.authorization,
      // Only a key's check uses the address (its allowlist); Express works it out on every read.
      ip: apiKey ? clientIp(req) : undefined,
      permission: typeof opts.permission === 'function' ? opts.permission(req) : opts.permission,
      cost: typeof opts.cost === 'function' ? opts.cost(req) : opts.cost,
      now: start,
    });
    if (decision instanceof Promise) return decision.then((d) => answer(res, next, report, d));
    answer(res, next, report, decision);
  }) as GatehouseMiddleware;

  middleware.flush = guard.flush;
  middleware.close = guard.close;
  return middleware;
}
