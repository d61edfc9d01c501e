import type { VerifyCode } from '../../core/keys/verify.js';
import { verifyKey } from '../../core/keys/verify.js';
import { invalidRequest, OAuthError, unauthorizedClient } from '../../core/oauth/errors.js';
import { issueAccessToken, type TokenDeps } from '../../core/oauth/tokens.js';
import type { ServerDeps } from '../context.js';
import { authenticateClient, clientCredentials, invalidClient, type AuthMethod, type FormParams } from './client-auth.js';

export const TOKEN_PATH = '/oauth/token';
const GRANTABLE = 'client_credentials';

/** What the token endpoint reads of a request: Express's route and the fast path (fast-token.ts) both hand it this. */
export interface TokenRequest {
  params: FormParams;
  /** The Authorization header. */
  authorization: string | undefined;
  /** The caller's address, as the app's trust proxy setting reads it. */
  ip: string;
  issuer: string;
}

export interface TokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** What a refused verification means to the token endpoint (RFC 6749 §5.2; 429 for the limits, which it does not cover). */
function refusal(code: Exclude<VerifyCode, 'VALID'>, method: AuthMethod, retryAt: number | undefined): OAuthError {
  switch (code) {
    case 'NOT_FOUND':
      return invalidClient(method);
    case 'DISABLED':
      return unauthorizedClient('the key is disabled');
    case 'EXPIRED':
      return unauthorizedClient('the key has expired');
    case 'FORBIDDEN':
      return unauthorizedClient('the key may not be used from this address');
    case 'INSUFFICIENT_PERMISSIONS':
      return unauthorizedClient('the key may not obtain tokens');
    case 'RATE_LIMITED': {
      const seconds = Math.max(1, Math.ceil(((retryAt ?? Date.now()) - Date.now()) / 1000));
      return new OAuthError(429, 'temporarily_unavailable', "the key's rate limit is exhausted", { 'Retry-After': String(seconds) });
    }
    case 'USAGE_EXCEEDED':
      return unauthorizedClient('the key or its workspace has used up its allowance');
  }
}

/** `audience` (Auth0's and many clients' name) or `resource` (RFC 8707); one value, and the same if both are sent. */
function requestedAudience(params: FormParams): string | undefined {
  const audience = params['audience'];
  const resource = params['resource'];
  if (audience !== undefined && resource !== undefined && audience !== resource) throw invalidRequest('audience and resource: name one target');
  return audience ?? resource;
}

/**
 * The client credentials grant (RFC 6749 §4.4): the client authenticated by its key, the key's
 * state and limits checked as a verification, and a signed access token. Throws OAuthError for
 * every refusal, in §5.2's order of checks.
 */
export async function tokenRequest(deps: ServerDeps, td: TokenDeps, r: TokenRequest): Promise<TokenAnswer> {
  const { params } = r;
  const grantType = params['grant_type'];
  if (grantType === undefined) throw invalidRequest('grant_type: required');
  const creds = clientCredentials(r.authorization, params);
  const record = await authenticateClient(deps, r.ip, creds);
  if (record.revoked) throw unauthorizedClient('the key has been revoked');
  if (grantType !== GRANTABLE) throw new OAuthError(400, 'unsupported_grant_type', `grant_type: only ${GRANTABLE} is supported`);
  const audience = requestedAudience(params);
  // Issuing is a verification of the key: its state, IP allowlist, rate limits, quota and
  // credits, counted and recorded as one (route /oauth/token). The record found above is handed
  // on, so the secret is hashed once per request.
  const started = performance.now();
  const verdict = await verifyKey({ secret: creds.secret, workspaceId: record.workspaceId, ip: r.ip, record }, deps);
  deps.usage.verification(record.workspaceId, verdict, { latencyMs: performance.now() - started, counted: true, route: TOKEN_PATH });
  if (verdict.code !== 'VALID') throw refusal(verdict.code, creds.method, verdict.ratelimit?.reset);
  const token = await issueAccessToken(td, { record, scope: params['scope'], audience, issuer: r.issuer });
  return { access_token: token.accessToken, token_type: 'Bearer', expires_in: token.expiresIn, scope: token.scope };
}
