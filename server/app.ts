import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import { createContextInner, type ServerDeps } from './context.js';
import { HttpError } from '../core/errors.js';
import { BODY_LIMIT, BODY_LIMIT_BYTES, errorAnswer, INTERNAL_ERROR } from './error-answer.js';
import { trustProxySetting } from '../core/config.js';
import type { Principal } from './auth/principal.js';
import { IP_NOT_ALLOWED, resolvePrincipal } from './auth/resolve.js';
import { applyViewAs } from './auth/view-as.js';
import { markUsage, usageMiddleware } from './usage-middleware.js';
import { appRouter } from './routers/_app.js';
import { restRouter } from './rest/register.js';
import { buildOpenApi } from './rest/openapi.js';
import { routes } from './rest/index.js';
import { securityHeaders } from './security-headers.js';
import { portalEnterRoute } from './portal-enter.js';
import { oauthRouter } from './oauth/endpoints.js';
import { PROVIDER_API_BODY_LIMIT, PROVIDER_API_PATH } from './rest/provider-api.js';
import { REPORT_USAGE_PATH } from './rest/usage.js';
import { brandedDocument, serveLogo } from './branded-document.js';
import { toTRPCError } from './trpc.js';
import { mountOperations } from './metrics.js';
import { fastVerify, type FastHandler } from './fast-verify.js';
import { fastToken } from './oauth/fast-token.js';

const UI_DIST = fileURLToPath(new URL('../ui/dist', import.meta.url));
/** `/trpc`, `/trpc/keys.list`, `/trpc?batch=1`: what the tRPC middleware mounted at /trpc answers. */
const TRPC_URL = /^\/trpc(?:[/?]|$)/;
/** Calls one tRPC batch may carry: the UI sends a handful; more is a way to multiply one request's work. */
export const MAX_TRPC_BATCH = 50;

export function createApp(deps: ServerDeps) {
  const app = express();
  app.disable('x-powered-by');
  // Off by default: any client could otherwise choose the address IP allowlists, the audit log and
  // the sign-in throttle see, by sending X-Forwarded-For.
  app.set('trust proxy', trustProxySetting(deps.config));
  const headers = securityHeaders(deps.config);
  app.use(headers.all);
  // /metrics, /readyz and request timings; verification answers are counted from here on.
  const operations = mountOperations(app, deps);
  deps = operations.deps;
  app.use(usageMiddleware(deps.usage));
  const json = express.json({ limit: BODY_LIMIT });
  // The provider's OpenAPI document may run to 2 MB, and a batch of usage reports to 5,000 records:
  // those two routes read more.
  const largeJson = express.json({ limit: PROVIDER_API_BODY_LIMIT });
  const large = new Set([PROVIDER_API_PATH, REPORT_USAGE_PATH]);
  // tRPC reads its own bodies (maxBodySize below): handed one express.json parsed, its adapter
  // re-serialises it with JSON.stringify, which overflows the stack on input nested thousands deep,
  // a 500 before the input guard can refuse it.
  app.use((req, res, next) => (TRPC_URL.test(req.url) ? next() : (large.has(req.path) ? largeJson : json)(req, res, next)));

  // app.listen serves POST /v1/keys/verify and POST /oauth/token before Express sees them;
  // http.createServer(app) is Express alone.
  const ipOf = expressIp(app);
  const verify = fastVerify({ deps, observe: operations.observe, json, ipOf });
  const token = fastToken({ deps, observe: operations.observe, view: expressView(app), ipOf });
  const fast: FastHandler = (req, res) => verify(req, res) || token(req, res);
  const serve = (req: IncomingMessage, res: ServerResponse) => fast(req, res) || app(req, res);
  const listen = app.listen;
  app.listen = ((...args: unknown[]) => listen.apply(serve, args as never)) as typeof app.listen;

  restRouter(routes, deps, app);
  // Form-encoded, answering in OAuth's error shape: beside the JSON route table, not in it.
  app.use(oauthRouter(deps));
  portalEnterRoute(app, deps);
  serveLogo(app, deps);
  const openapi = buildOpenApi(routes, '0.1.0');
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      maxBodySize: BODY_LIMIT_BYTES,
      maxBatchSize: MAX_TRPC_BATCH,
      createContext: async ({ req, res, info }) => {
        let principal: Principal | undefined;
        let refusal: HttpError | undefined;
        try {
          principal = await resolvePrincipal(req, deps, { session: true });
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          // A browser whose session's key does not allow its address must still be able to sign
          // out, or in with another key: that refusal waits for the first authed procedure.
          // Anything else (throttled, a malformed header) refuses the whole request, with its headers.
          if (err.code !== IP_NOT_ALLOWED) {
            res.set(err.headers);
            throw toTRPCError(err);
          }
          refusal = err;
        }
        // The operator's own call, counted in the operator's workspace even when it views another.
        markUsage(res, principal, `/trpc${req.path}`);
        const inner = createContextInner(deps, principal, req.ip ?? '', { req, res });
        try {
          inner.principal = await applyViewAs(req, info, inner.em, principal, inner.ip);
        } catch (err) {
          if (err instanceof HttpError) throw toTRPCError(err);
          throw err;
        }
        return { ...inner, refusal };
      },
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') deps.log.error({ err: error.cause ?? error, path }, 'trpc procedure failed');
      },
    }),
  );

  if (existsSync(UI_DIST)) {
    // index.html is never served as the file: server/branded-document.ts puts the product name in it.
    const document = brandedDocument(deps, headers, UI_DIST);
    app.get(['/', '/index.html'], document);
    app.use(express.static(UI_DIST, { index: false, maxAge: '1h', setHeaders: (res) => headers.ui(res) }));
    // The UI routes on the client: a browser navigating (Accept: text/html) gets the app shell,
    // an API client asking for an unknown route still gets a JSON 404.
    app.get(/.*/, (req, res, next) => (req.headers.accept?.includes('text/html') ? document(req, res, next) : next()));
  }

  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: `No route ${req.method} ${req.path}` } });
  });
  app.use(errorHandler(deps));
  // Exposed so a test can serve the same app with and without it and compare the answers.
  return Object.assign(app, { fastPaths: fast });
}

/** Express's own `req.ip` getter (the app's trust proxy rule), read for a request Express has not seen. */
function expressIp(app: Express): (req: IncomingMessage) => string {
  const getter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(app.request) as object, 'ip')!.get!;
  // With no X-Forwarded-For header every trust setting reads the socket's address (proxy-addr's
  // chain is that address alone): read it directly instead of parsing the chain per request.
  return (req) =>
    (req.headers['x-forwarded-for'] === undefined ? req.socket.remoteAddress : (getter.call({ app, headers: req.headers, socket: req.socket }) as string | undefined)) ?? '';
}

/**
 * A request Express has not seen, as its getters read it (`ip`, `protocol`, `get('host')`, under the
 * app's trust proxy setting): the prototype Express itself gives each request, over this one's headers and socket.
 */
function expressView(app: Express): (req: IncomingMessage) => Request {
  return (req) => Object.assign(Object.create(app.request) as Request, { headers: req.headers, socket: req.socket, connection: req.socket });
}

function errorHandler(deps: ServerDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const answer = errorAnswer(err);
    if (answer) {
      if (answer.headers) res.set(answer.headers);
      res.status(answer.status).json(answer.body);
      return;
    }
    deps.log.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(500).json(INTERNAL_ERROR);
  };
}
