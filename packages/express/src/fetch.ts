// `import { withGatehouse } from '@gatehouse/express/fetch'`: the same guard for WHATWG
// Request/Response handlers (Hono, Next.js route handlers, Bun.serve, Deno.serve, itty-router...).
import { createGuard, type GatehouseVerification, type Guard, type GuardOptions } from './guard.js';
import { isoAt } from './iso-time.js';

export type { Decision, GatehouseVerification, Guard, GuardOptions, GuardRequest, UsageReport } from './guard.js';
export { createGuard } from './guard.js';

export interface FetchGuardOptions extends GuardOptions {
  /** Permission (or expression) the caller's key must hold; per request when a function. */
  permission?: string | ((request: Request) => string | undefined);
  /** Credits to charge per request (default 1). */
  cost?: number | ((request: Request) => number | undefined);
  /**
   * The route pattern usage is recorded under (`/products/{id}`): never the raw path, which would
   * make every id its own route. Default: the request's method only, as `(unmatched)`.
   */
  route?: (request: Request) => string;
  /** The caller's address for the key's IP allowlist; WHATWG requests do not carry it. */
  ip?: (request: Request) => string | undefined;
}

export type FetchHandler = (request: Request, verification: GatehouseVerification) => Response | Promise<Response>;

export interface GatehouseFetch {
  /** Wraps a handler: it runs only for a request Gatehouse lets through. */
  (handler: FetchHandler): (request: Request) => Promise<Response>;
  /** The verdict alone: a Response to send back when refused, else the verification. */
  verifyRequest(request: Request): Promise<{ response: Response; verification?: undefined } | { response?: undefined; verification: GatehouseVerification }>;
  flush: Guard['flush'];
  close: Guard['close'];
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  const entries = Object.entries(headers);
  if (entries.length === 0) return response;
  // A Response from fetch() has immutable headers: copy it rather than fail.
  const out = new Response(response.body, response);
  for (const [name, value] of entries) out.headers.set(name, value);
  return out;
}

/** `const guarded = withGatehouse({ url, apiKey, permission }); export const GET = guarded(async (req, v) => ...)`. */
export function withGatehouse(opts: FetchGuardOptions): GatehouseFetch {
  const guard = createGuard(opts);

  async function decide(request: Request, now?: number) {
    return guard.check({
      apiKey: request.headers.get('x-api-key'),
      authorization: request.headers.get('authorization'),
      ip: opts.ip?.(request),
      permission: typeof opts.permission === 'function' ? opts.permission(request) : opts.permission,
      cost: typeof opts.cost === 'function' ? opts.cost(request) : opts.cost,
      now,
    });
  }

  const refusedResponse = (d: { status: number; headers: Record<string, string>; body: unknown }) => Response.json(d.body, { status: d.status, headers: d.headers });

  const wrap = ((handler: FetchHandler) => async (request: Request) => {
    const start = performance.now();
    const decision = await decide(request, start);
    let response: Response;
    try {
      response = decision.allow ? withHeaders(await handler(request, decision.verification), decision.headers) : refusedResponse(decision);
    } catch (err) {
      response = Response.json({ error: { code: 'internal', message: 'Internal error' } }, { status: 500 });
      (opts.onError ?? (() => {}))(err as Error);
    }
    const end = performance.now();
    guard.report({
      key_id: decision.allow ? decision.verification.key_id : decision.keyId,
      method: request.method,
      route: (opts.route?.(request) ?? '(unmatched)').slice(0, 200),
      status: response.status,
      latency_ms: Math.round((end - start) * 100) / 100,
      time: isoAt(end),
      code: decision.allow ? decision.verification.code : decision.code,
    });
    return response;
  }) as GatehouseFetch;

  wrap.verifyRequest = async (request) => {
    const decision = await decide(request);
    return decision.allow ? { verification: decision.verification } : { response: refusedResponse(decision) };
  };
  wrap.flush = guard.flush;
  wrap.close = guard.close;
  return wrap;
}
