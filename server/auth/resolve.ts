import type { Request } from 'express';
import type { ServerDeps } from '../context.js';
import { HttpError } from '../../core/errors.js';
import { authenticate } from './authenticate.js';
import type { Principal } from './principal.js';
import { principalFromSession } from './session.js';

/** The x-api-key header, exactly once; a repeated header is refused rather than guessed at. */
export function apiKeyHeader(req: Request): string | undefined {
  const raw = req.headers['x-api-key'];
  if (Array.isArray(raw)) throw new HttpError(400, 'invalid_input', 'x-api-key header: send it exactly once', 'x-api-key');
  if (raw?.includes(',')) throw new HttpError(400, 'invalid_input', 'x-api-key header: send it exactly once', 'x-api-key');
  return raw?.trim() || undefined;
}

/**
 * `session: true` (tRPC only, for the admin UI) also accepts the UI's session cookie when no
 * x-api-key header is sent. REST never does, so no REST route can be driven by a browser's cookie.
 */
export async function resolvePrincipal(req: Request, deps: ServerDeps, opts: { session?: boolean } = {}): Promise<Principal | undefined> {
  const secret = apiKeyHeader(req);
  if (!secret) return opts.session ? principalFromSession(req, deps.orm.em.fork() as never) : undefined;
  return authenticate(deps.verifier, secret);
}
