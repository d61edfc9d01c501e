import type { VerifyResult } from '../keys/verify.js';
import { parsePermissionInput } from '../keys/verify.js';
import { satisfies } from '../../packages/express/src/permission-expr.js';
import { checkAccessToken, type TokenDeps } from './tokens.js';

/**
 * `POST /v1/keys/verify` given an access token instead of a secret: the same answer shape and
 * codes (a revoked token or key is NOT_FOUND, as a revoked key is; an expired token is EXPIRED),
 * `permissions` being the token's scopes and `expires` its `exp`. The key's rate limits and
 * credits are spent when the token is issued, not again per check.
 */
export async function verifyAccessToken(deps: TokenDeps, input: { token: string; workspaceId: string; permission?: string }): Promise<VerifyResult> {
  const expr = input.permission === undefined ? undefined : parsePermissionInput(input.permission);
  const verdict = await checkAccessToken(deps, input.token);
  const claims = verdict.claims;
  const none = { ratelimit: null, quota: null, credits: null };
  if (!claims || verdict.code === 'NOT_FOUND' || claims.workspace_id !== input.workspaceId) {
    return { valid: false, code: 'NOT_FOUND', keyId: null, permissions: [], expires: null, ...none };
  }
  const scopes = claims.scope.split(' ').filter(Boolean);
  const seen = { keyId: claims.sub, permissions: scopes, expires: claims.exp * 1000, ...none };
  if (verdict.code !== 'VALID') return { valid: false, code: verdict.code, ...seen };
  if (expr && !satisfies(expr, new Set(scopes))) return { valid: false, code: 'INSUFFICIENT_PERMISSIONS', ...seen };
  return { valid: true, code: 'VALID', ...seen };
}
