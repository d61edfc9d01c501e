import type { ServerResponse } from 'node:http';
import { HttpError } from '../../core/errors.js';
import { OAuthError } from '../../core/oauth/errors.js';

/** Every answer of the OAuth endpoints may carry a token or say something about one: never cached (RFC 6749 §5.1). */
export function noStore(res: Pick<ServerResponse, 'setHeader'>): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

export interface OAuthErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * An error as the OAuth endpoints answer it (RFC 6749 §5.2's shape): their own errors, Gatehouse's
 * HttpErrors (the auth throttle's 429), and the body parser's 4xx as `invalid_request`. Undefined
 * for anything else: a failure of Gatehouse, answered as every route answers one.
 */
export function oauthErrorAnswer(err: unknown): OAuthErrorAnswer | undefined {
  if (err instanceof OAuthError || err instanceof HttpError) {
    const e = err instanceof OAuthError ? err : new OAuthError(err.status, err.code, err.message, err.headers);
    return { status: e.status, headers: e.headers ?? {}, body: { error: e.error, error_description: e.description } };
  }
  const status = (err as { status?: number } | undefined)?.status;
  if (status && status >= 400 && status < 500) return { status: 400, headers: {}, body: { error: 'invalid_request', error_description: 'the request body could not be read' } };
  return undefined;
}
