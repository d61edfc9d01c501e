import { Router, type NextFunction, type Request, type Response } from 'express';
import type { KeyRecord } from '../../core/keys/key-record.js';
import { isActive } from '../../core/keys/verify.js';
import { invalidRequest, OAuthError, unauthorizedClient } from '../../core/oauth/errors.js';
import { checkAccessToken, keyRing, revokeAccessToken, type TokenDeps } from '../../core/oauth/tokens.js';
import { JWKS_MAX_AGE_SECONDS, SIGNING_ALGS } from '../../core/oauth/signing-keys.js';
import { hasScope, OPERATOR } from '../../core/permissions.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { authenticate } from '../auth/authenticate.js';
import { resolvePrincipal } from '../auth/resolve.js';
import { enforceCallerRateLimit } from '../auth/rate-limit.js';
import type { ServerDeps } from '../context.js';
import { markUsage } from '../usage-middleware.js';
import { authenticateClient, clientCredentials, formParams } from './client-auth.js';
import { noStore, oauthErrorAnswer } from './error-answer.js';
import { oauthForm } from './form.js';
import { issuerOf } from './issuer.js';
import { TOKEN_PATH, tokenRequest } from './token-request.js';

export const OAUTH_PATHS = {
  metadata: '/.well-known/oauth-authorization-server',
  jwks: '/.well-known/jwks.json',
  token: TOKEN_PATH,
  introspect: '/oauth/introspect',
  revoke: '/oauth/revoke',
} as const;


export function tokenDeps(deps: ServerDeps): TokenDeps {
  return { verifier: deps.verifier, em: () => deps.orm.em.fork() as EntityManager, secretKey: deps.config.GATEHOUSE_SECRET_KEY };
}

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);

/**
 * The OAuth 2.0 authorization server: RFC 8414 metadata, the JWKS, and the token (RFC 6749 §4.4),
 * introspection (RFC 7662) and revocation (RFC 7009) endpoints. Form-encoded, answering in OAuth's
 * own error shape, so they live beside the JSON route table rather than in it.
 */
export function oauthRouter(deps: ServerDeps): Router {
  const router = Router();
  const form = oauthForm();
  const td = tokenDeps(deps);

  router.get(OAUTH_PATHS.metadata, (req, res) => {
    const issuer = issuerOf(deps.config, req);
    res.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    res.json({
      issuer,
      token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
      jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
      introspection_endpoint: `${issuer}${OAUTH_PATHS.introspect}`,
      revocation_endpoint: `${issuer}${OAUTH_PATHS.revoke}`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      // A key's own scopes are the provider's to name: the metadata cannot list them all (RFC 8414 §2 allows a subset).
      scopes_supported: [],
      access_token_signing_alg_values_supported: [...SIGNING_ALGS],
    });
  });

  router.get(
    OAUTH_PATHS.jwks,
    wrap(async (_req, res) => {
      const ring = await keyRing(td);
      res.set('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
      res.type('application/jwk-set+json').send(JSON.stringify(ring.jwks));
    }),
  );

  // Also served before Express, by server/oauth/fast-token.ts, through the same tokenRequest.
  router.post(
    OAUTH_PATHS.token,
    form,
    wrap(async (req, res) => {
      noStore(res);
      const params = formParams(req);
      res.json(await tokenRequest(deps, td, { params, authorization: req.headers.authorization, ip: req.ip ?? '', issuer: issuerOf(deps.config, req) }));
    }),
  );

  router.post(
    OAUTH_PATHS.introspect,
    form,
    wrap(async (req, res) => {
      noStore(res);
      const params = formParams(req);
      const caller = await introspectionCaller(deps, req, res, params);
      const token = params['token'];
      if (token === undefined) throw invalidRequest('token: required');
      const verdict = await checkAccessToken(td, token);
      if (verdict.code !== 'VALID' || (verdict.claims.workspace_id !== caller.workspaceId && !caller.operator)) {
        res.json({ active: false });
        return;
      }
      const c = verdict.claims;
      res.json({
        active: true,
        scope: c.scope,
        client_id: c.client_id,
        sub: c.sub,
        aud: c.aud,
        iss: c.iss,
        exp: c.exp,
        iat: c.iat,
        jti: c.jti,
        token_type: 'Bearer',
        workspace_id: c.workspace_id,
      });
    }),
  );

  router.post(
    OAUTH_PATHS.revoke,
    form,
    wrap(async (req, res) => {
      noStore(res);
      const params = formParams(req);
      const creds = clientCredentials(req.headers.authorization, params);
      const record = await authenticateClient(deps, req.ip ?? '', creds);
      if (record.revoked) throw unauthorizedClient('the key has been revoked');
      const token = params['token'];
      if (token === undefined) throw invalidRequest('token: required');
      const verdict = await checkAccessToken(td, token);
      // A token of another client, or none Gatehouse signed, is left alone with the same 200 (RFC 7009 §2.2):
      // the answer never tells a client whether someone else's token exists.
      if (verdict.claims && verdict.keyPk && verdict.claims.client_id === record.clientId) {
        await revokeAccessToken(deps.orm.em.fork() as EntityManager, verdict.claims, verdict.keyPk);
      }
      res.status(200).end();
    }),
  );

  router.use([OAUTH_PATHS.token, OAUTH_PATHS.introspect, OAUTH_PATHS.revoke, OAUTH_PATHS.jwks], oauthErrors(deps));
  return router;
}

interface IntrospectionCaller {
  workspaceId: string;
  operator: boolean;
}

/**
 * RFC 7662 §2.1 leaves the protection to the server: a key holding `keys:verify` in `x-api-key`
 * (the provider's services, as for `/v1/keys/verify`), or a client authenticating as for the token
 * endpoint. Either sees only its own workspace's tokens, unless it is the operator's.
 */
async function introspectionCaller(deps: ServerDeps, req: Request, res: Response, params: Record<string, string | undefined>): Promise<IntrospectionCaller> {
  if (req.headers['x-api-key'] !== undefined) {
    const principal = await resolvePrincipal(req, deps);
    markUsage(res, principal, OAUTH_PATHS.introspect);
    if (!principal) throw new OAuthError(401, 'invalid_token', 'x-api-key: not a valid key', { 'WWW-Authenticate': 'ApiKey' });
    await enforceCallerRateLimit(deps.verifier, principal, res);
    if (!hasScope(principal.scopes, 'keys:verify')) throw new OAuthError(403, 'insufficient_scope', 'x-api-key: the key lacks keys:verify');
    return { workspaceId: principal.workspaceId, operator: principal.scopes.has(OPERATOR) };
  }
  const creds = clientCredentials(req.headers.authorization, params);
  const record: KeyRecord = await authenticateClient(deps, req.ip ?? '', creds);
  const principal = isActive(record) ? await authenticate(deps.verifier, creds.secret) : undefined;
  if (!principal) throw unauthorizedClient('the key is revoked, disabled or expired');
  markUsage(res, principal, OAUTH_PATHS.introspect);
  await enforceCallerRateLimit(deps.verifier, principal, res);
  return { workspaceId: principal.workspaceId, operator: false };
}

function oauthErrors(deps: ServerDeps) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const answer = oauthErrorAnswer(err);
    if (!answer) {
      deps.log.error({ err, path: req.path }, 'oauth endpoint failed');
      next(err);
      return;
    }
    noStore(res);
    res.set(answer.headers);
    res.status(answer.status).json(answer.body);
  };
}
