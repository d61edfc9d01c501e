import type { Express, NextFunction, Request, Response } from 'express';
import { Histogram } from 'prom-client';
import { createRegistry } from '../core/metrics/registry.js';
import { scrape } from '../core/metrics/scrape.js';
import { countVerifications, observeRecorder } from '../core/metrics/usage.js';
import type { ServerDeps } from './context.js';
import { checkReadiness } from './health.js';
import { appRouter } from './routers/_app.js';
import type { UsageLocals } from './usage-middleware.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const PROCEDURES = new Set(Object.keys(appRouter._def.procedures as Record<string, unknown>));

/**
 * A request's route as a bounded label: the REST pattern (`/api-keys/{id}`), a known tRPC
 * procedure, or a fixed word. Never the raw path, which holds ids and is the client's to choose.
 */
export function routeLabel(req: Request, res: Response): string {
  const route = (res.locals as UsageLocals).usageRoute;
  if (route !== undefined) {
    if (!route.startsWith('/trpc')) return route;
    const procedure = route.slice('/trpc/'.length);
    return procedure.includes(',') ? '/trpc/(batch)' : PROCEDURES.has(procedure) ? route : '/trpc/(unknown)';
  }
  // A REST route that refused before naming itself (a missing key): Express's own pattern.
  // Spelled as the route table spells it (`/api-keys/{id}`), so one route is one series.
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return pattern.replace(/:(\w+)/g, '{$1}');
  return res.statusCode === 404 ? '(unmatched)' : '(ui)';
}

/**
 * Operations endpoints of an API process: the request-duration histogram, `GET /metrics` (its own
 * registry per app) and `GET /readyz`. Returns the deps the app should use from here on (the usage
 * pipeline with verification answers counted) and the request-duration observer.
 */
export function mountOperations(app: Express, deps: ServerDeps): { deps: ServerDeps; observe: ObserveRequest } {
  const registry = createRegistry();
  const usage = countVerifications(deps.usage, registry);
  observeRecorder(deps.usage.recorder, registry);
  const duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP requests answered by this API process, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  /** One answered request; the verify fast path (server/fast-verify.ts) observes its own here too. */
  const observe: ObserveRequest = (method, route, status, start) => {
    duration.observe({ method: METHODS.has(method) ? method : 'OTHER', route, status: String(status) }, (performance.now() - start) / 1000);
  };
  // One listener function for every response, as the usage middleware does: no closure per request.
  function onFinish(this: Response) {
    observe(this.req.method, routeLabel(this.req, this), this.statusCode, (this.locals as { metricsStart?: number }).metricsStart!);
  }
  app.use((_req: Request, res: Response, next: NextFunction) => {
    (res.locals as { metricsStart?: number }).metricsStart = performance.now();
    res.on('finish', onFinish);
    next();
  });
  app.get('/metrics', async (req, res, next) => {
    try {
      const answer = await scrape(registry, req.headers.authorization, deps.config.GATEHOUSE_METRICS_TOKEN);
      res.status(answer.status).type(answer.contentType).send(answer.body);
    } catch (err) {
      next(err);
    }
  });
  app.get('/readyz', async (_req, res, next) => {
    try {
      const readiness = await checkReadiness(deps, app);
      res.status(readiness.status === 'ready' ? 200 : 503).json(readiness);
    } catch (err) {
      next(err);
    }
  });
  return { deps: { ...deps, usage }, observe };
}

/** Observes one answered request's duration from `start` (performance.now()). */
export type ObserveRequest = (method: string, route: string, status: number, start: number) => void;
