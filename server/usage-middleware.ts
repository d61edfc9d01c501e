import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Usage, VerificationOutcome } from '../core/usage/index.js';
import type { UsageSource } from '../core/usage/recorder.js';
import type { Principal } from './auth/principal.js';

/**
 * What the usage middleware reads from `res.locals`, set by whoever authenticates the request
 * (REST's route runner, tRPC's createContext).
 */
export interface UsageLocals {
  principal?: Principal;
  /** Route pattern, OpenAPI style (`/api-keys/{id}`) or `/trpc/<procedure>`. */
  usageRoute?: string;
  /** `api` for a call made with a key, `ui` for one made by the web UI's session cookie. */
  usageSource?: Extract<UsageSource, 'api' | 'ui'>;
  /** performance.now() when the request arrived (a double: no BigInt allocated per request). */
  usageStart?: number;
  /** A verification record already stands for this call: no second, `api` record. */
  usageRecorded?: boolean;
}

/**
 * Sent by a protected service that reports each call's outcome through POST /v1/usage (the
 * Express middleware does): its verifications are then logged but not counted, or every call
 * would count twice.
 */
export const REPORTS_USAGE_HEADER = 'x-gatehouse-reports-usage';

/**
 * Routes whose calls are counted by the records they carry (the verification, the reported
 * calls): their own API record stays in the request log but out of the rollups.
 */
export const SELF_COUNTING_ROUTES: ReadonlySet<string> = new Set(['/v1/keys/verify', '/v1/usage', '/trpc/keys.verify']);

/**
 * Marks a request as made by `principal` on `route`, for the usage record written when it finishes.
 * A call authenticated without an x-api-key header can only have been authenticated by the UI's
 * session cookie (server/auth/resolve.ts reads the cookie only then): tRPC from the UI's pages, REST
 * from its playground. Either way that is the UI.
 */
export function markUsage(res: Response, principal: Principal | undefined, route: string): void {
  const locals = res.locals as UsageLocals;
  locals.principal = principal;
  locals.usageRoute = route;
  locals.usageSource = res.req.headers['x-api-key'] === undefined ? 'ui' : 'api';
}

/** One call to Gatehouse's own API, for the request log (uncounted): the middleware's record, and the verify fast path's when it answers without a verification. */
export function recordCall(usage: Usage, principal: Principal, source: 'api' | 'ui', method: string, route: string | undefined, status: number, start: number): void {
  usage.record({
    workspaceId: principal.workspaceId,
    keyId: principal.keyId,
    source,
    method,
    route: route === undefined ? '(unmatched)' : route.length > 200 ? route.slice(0, 200) : route,
    status,
    latencyMs: performance.now() - start,
    counted: false,
  });
}

/**
 * Records every call to Gatehouse's own API once its response is sent, for the request log: as
 * `api` (a key) or `ui` (the web UI's session), never counted. Usage means the provider's API
 * traffic (verifications, reported calls); browsing the UI or managing keys is not part of it and
 * must not move calls, errors, latency, health or warnings (docs/usage.md, "What counts"). Only
 * calls made with a key or session are attributable to a workspace; anonymous ones (public routes,
 * missing or invalid keys) are not recorded.
 */
export function usageMiddleware(usage: Usage) {
  // One listener function for every response rather than a closure per request: `this` is the
  // response, and the request and start time hang off it already.
  function onFinish(this: Response) {
    const locals = this.locals as UsageLocals;
    if (!locals.principal || locals.usageRecorded) return;
    recordCall(usage, locals.principal, locals.usageSource ?? 'api', this.req.method, locals.usageRoute, this.statusCode, locals.usageStart!);
  }
  return (_req: Request, res: Response, next: NextFunction) => {
    (res.locals as UsageLocals).usageStart = performance.now();
    res.on('finish', onFinish);
    next();
  };
}

/**
 * The verify route's hook: one verification record, counted unless the caller reports the call
 * itself. It is the call's only record: a second, `api` record naming the caller's key would double
 * the recording cost of the hot path and the request log's lines for nothing a user reads.
 */
export function recordVerification(usage: Usage, workspaceId: string, result: VerificationOutcome, req: Request, res: Response): void {
  const locals = res.locals as UsageLocals;
  locals.usageRecorded = true;
  verificationRecord(usage, workspaceId, result, locals.usageStart, req.headers);
}

/** The verification record itself, from the request's start (performance.now()) and headers: Express's route and the fast path both write it here. */
export function verificationRecord(usage: Usage, workspaceId: string, result: VerificationOutcome, start: number | undefined, headers: IncomingHttpHeaders): void {
  usage.verification(workspaceId, result, {
    latencyMs: start === undefined ? 0 : performance.now() - start,
    counted: headers[REPORTS_USAGE_HEADER] !== '1',
  });
}

/** The tRPC verify procedure's hook: as `recordVerification`, timed from `startedAt` (performance.now()). */
export function recordContextVerification(
  ctx: { usage: Usage; principal: Principal; http?: { req: Request; res?: Response } },
  result: VerificationOutcome,
  startedAt: number,
): void {
  const locals = ctx.http?.res?.locals as UsageLocals | undefined;
  // In a batch (`/trpc/keys.verify,keys.list`) the other procedures still need the call's record.
  if (locals?.usageRoute === '/trpc/keys.verify') locals.usageRecorded = true;
  ctx.usage.verification(ctx.principal.workspaceId, result, {
    latencyMs: performance.now() - startedAt,
    counted: ctx.http?.req.headers[REPORTS_USAGE_HEADER] !== '1',
  });
}
