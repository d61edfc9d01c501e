import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { KeyRecord } from '../../core/keys/key-record.js';
import { invalidRequest, OAuthError } from '../../core/oauth/errors.js';
import { AuthThrottle, authThrottle } from '../auth/throttle.js';
import type { ServerDeps } from '../context.js';

/** A token endpoint request's parameters: each at most once (RFC 6749 §3.2), as strings. */
export type FormParams = Readonly<Record<string, string | undefined>>;

/**
 * The form body, refused unless it is `application/x-www-form-urlencoded` (RFC 6749 §3.2) and
 * names every parameter once. Empty values count as absent (§3.1).
 */
export function formParams(req: { headers: IncomingHttpHeaders; body?: unknown }): FormParams {
  const type = req.headers['content-type'];
  const semicolon = type?.indexOf(';') ?? -1;
  const media = (semicolon < 0 ? type : type!.slice(0, semicolon))?.trim().toLowerCase();
  if (media !== 'application/x-www-form-urlencoded') throw invalidRequest('the body must be application/x-www-form-urlencoded');
  const body = (req.body ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw invalidRequest(`${name.slice(0, 64)}: send it once`);
    if (value !== '') out[name] = value;
  }
  return out;
}

export type AuthMethod = 'client_secret_basic' | 'client_secret_post';

const REALM = 'Basic realm="gatehouse", charset="UTF-8"';

/**
 * `invalid_client`: 401 with a Basic challenge when the client tried the Authorization header or
 * sent no credentials at all (RFC 6749 §5.2 requires it then, and a 401 always carries one);
 * 400 when it authenticated in the body.
 */
export function invalidClient(method: AuthMethod | undefined, description = 'client authentication failed'): OAuthError {
  return method === 'client_secret_post'
    ? new OAuthError(400, 'invalid_client', description)
    : new OAuthError(401, 'invalid_client', description, { 'WWW-Authenticate': REALM });
}

/** RFC 6749 §2.3.1: each half of Basic credentials is form-urlencoded before base64. */
function formDecode(s: string): string | undefined {
  // A client id and a Gatehouse secret have nothing to decode.
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export interface ClientCredentials {
  clientId: string;
  secret: string;
  method: AuthMethod;
}

/**
 * The client's credentials, from HTTP Basic or from the body (`client_secret_post`), never both:
 * one request, one authentication method (§2.3). A body `client_id` beside Basic credentials is
 * allowed when it names the same client (some clients send it anyway).
 */
export function clientCredentials(header: string | undefined, params: FormParams): ClientCredentials {
  if (header !== undefined) {
    const m = /^Basic +([A-Za-z0-9+/=_-]*) *$/i.exec(header);
    if (!m) throw invalidClient(undefined, 'the Authorization header must carry Basic credentials');
    if (params['client_secret'] !== undefined) throw invalidRequest('use one client authentication method: Basic or client_secret in the body, not both');
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const clientId = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
    const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
    if (!clientId || !secret) throw invalidClient('client_secret_basic', 'malformed Basic credentials');
    if (params['client_id'] !== undefined && params['client_id'] !== clientId) throw invalidRequest('client_id: differs from the client in the Authorization header');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  const clientId = params['client_id'];
  const secret = params['client_secret'];
  if (clientId === undefined && secret === undefined) throw invalidClient(undefined, 'client authentication is required (Basic or client_id and client_secret in the body)');
  if (clientId === undefined || secret === undefined) throw invalidClient('client_secret_post', 'send both client_id and client_secret');
  return { clientId, secret, method: 'client_secret_post' };
}

function sameClientId(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The key the credentials belong to: found by the secret's hash through the verifier's cache (as
 * every key check is), then its client id compared. Refused as `invalid_client` alike for an
 * unknown secret and for a secret of another client; failures feed the same throttle as bad
 * `x-api-key` headers. A revoked key is found: the caller decides what that means.
 */
export async function authenticateClient(deps: ServerDeps, ip: string, creds: ClientCredentials): Promise<KeyRecord> {
  const throttle = authThrottle(deps);
  if (throttle.active) {
    const wait = throttle.retryAfter(ip, creds.secret);
    if (wait > 0) {
      const refusal = AuthThrottle.refusal(wait);
      throw new OAuthError(429, 'temporarily_unavailable', refusal.message, refusal.headers);
    }
  }
  const found = deps.verifier.lookup(creds.secret);
  const record = found instanceof Promise ? await found : found;
  if (!record || !sameClientId(record.clientId, creds.clientId)) {
    throttle.fail(ip, creds.secret);
    throw invalidClient(creds.method);
  }
  return record;
}
