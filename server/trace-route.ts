import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { routeLabel } from './metrics.js';

/**
 * An HTTP server span's route (core/tracing): the bounded label the request metrics use. A request
 * answered before Express saw it (the verify fast path) has no Express response and no label.
 */
export function expressRoute(req: IncomingMessage, res: ServerResponse): string | undefined {
  return 'locals' in res ? routeLabel(req as Request, res as Response) : undefined;
}
