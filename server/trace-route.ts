import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { routeLabel } from './metrics.js';
import { TOKEN_PATH } from './oauth/token-request.js';
import { verifyRoute } from './rest/verify.js';

/** The routes answered before Express (server/fast-verify.ts, server/oauth/fast-token.ts): each takes exactly its path. */
const FAST_ROUTES = new Set([verifyRoute.path, TOKEN_PATH]);

/**
 * An HTTP server span's route (core/tracing): the bounded label the request metrics use. A request
 * a fast path answered has no Express response: its route is its path, which the fast paths match exactly.
 */
export function expressRoute(req: IncomingMessage, res: ServerResponse): string | undefined {
  if ('locals' in res) return routeLabel(req as Request, res as Response);
  return req.method === 'POST' && req.url !== undefined && FAST_ROUTES.has(req.url) ? req.url : undefined;
}
