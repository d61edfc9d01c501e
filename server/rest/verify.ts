import { z } from 'zod';
import { MAX_COST, VERIFY_CODES, verifyKeyNow, type VerifyResult } from '../../core/keys/verify.js';
import type { ServerDeps } from '../context.js';
import { defineRoute } from './route.js';
import { recordVerification } from '../usage-middleware.js';
import { looksLikeJwt } from '../../core/oauth/tokens.js';
import { verifyAccessToken } from '../../core/oauth/verify-token.js';
import { tokenDeps } from '../oauth/endpoints.js';
import { activeTracing, inSpan } from '../../core/tracing/provider.js';

/** Secrets are at most 512 characters; an access token with many scopes runs longer. */
const MAX_TOKEN_LENGTH = 8192;

export const verifyBody = z.object({
  key: z
    .string({ error: 'expected the secret to verify, as a string' })
    .min(1, 'expected the secret to verify')
    .max(MAX_TOKEN_LENGTH, `at most ${MAX_TOKEN_LENGTH} characters`)
    .meta({
      description: 'The secret your API received, or an OAuth access token (a JWT from `POST /oauth/token`); never logged.',
      example: 'gate_sk_live_…',
    }),
  permission: z
    .string({ error: 'expected a string' })
    .min(1, 'expected a permission expression')
    .max(1000, 'at most 1000 characters')
    .optional()
    .meta({ description: 'A scope or an expression: `products:write`, `a AND b`, `a OR (b AND c)`.', example: 'products:write' }),
  ip: z
    .union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' })
    .optional()
    .meta({ description: 'Where the key was presented from, for its IP allowlist; defaults to this request’s address.' }),
  cost: z
    .number({ error: 'expected an integer' })
    .int('expected an integer')
    .min(0, 'expected at least 0')
    .max(MAX_COST, `expected at most ${MAX_COST}`)
    .optional()
    .meta({ description: 'Credits to charge when the key is metered (default 1).' }),
});

export const verifyResponse = z
  .object({
    valid: z.boolean(),
    code: z.enum(VERIFY_CODES),
    key_id: z.string().nullable(),
    permissions: z.array(z.string()),
    ratelimit: z
      .object({
        scope: z.enum(['key', 'workspace']).meta({
          description: "`key`: the key's own limit or its plan's per-key ceiling; `workspace`: a limit shared by every key of the workspace (its plan's).",
        }),
        name: z.string().meta({ description: 'Which limit: the key\'s own name for it, `plan:<window>s` for a plan ceiling, `workspace:<window>s` for a shared one.', example: 'workspace:60s' }),
        limit: z.number().int(),
        remaining: z.number().int(),
        reset: z.number().int().meta({ description: 'Epoch milliseconds at which the current window ends.' }),
      })
      .nullable()
      .meta({ description: 'The rate limit that refused, else the one with least room left; null when neither the key nor its workspace has any.' }),
    quota: z
      .object({
        scope: z.literal('workspace'),
        name: z.enum(['monthly_calls', 'monthly_credits']).meta({ description: "The plan's monthly call quota or its monthly credit grant." }),
        limit: z.number().int(),
        remaining: z.number().int(),
        reset: z.number().int().meta({ description: 'Epoch milliseconds of the start of the next UTC month.' }),
      })
      .nullable()
      .meta({ description: "The workspace's monthly allowance that refused, else its call quota; null when its plan sets none." }),
    credits: z.number().int().nullable(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'VerifyKeyResponse' });

export const verifyRoute = defineRoute({
  method: 'post',
  path: '/v1/keys/verify',
  summary: 'Verify a key your API received: always 200, `valid` and `code` say whether to let it in',
  tags: ['keys'],
  scope: 'keys:verify',
  body: verifyBody,
  response: verifyResponse,
  handler: async ({ body, ctx, req, res }) => {
    const r = await verification(ctx, ctx.principal.workspaceId, body, ctx.ip);
    recordVerification(ctx.usage, ctx.principal.workspaceId, r, req, res);
    return verifyAnswer(r);
  },
});

/**
 * What the route does between authentication and the answer; the verify fast path
 * (server/fast-verify.ts) calls it too. `ip`: the request's address, for a key's IP allowlist
 * when the body names none. Without a promise when the key is answered from memory and no tracing
 * is on (verifyKeyNow): the fast path then answers in the turn its body arrived.
 */
export function verification(deps: ServerDeps, workspaceId: string, body: z.output<typeof verifyBody>, ip: string): VerifyResult | Promise<VerifyResult> {
  if (!activeTracing()) return verifyCredential(deps, workspaceId, body, ip);
  // The span says what kind of credential and the answer's code, never the key, token or key id.
  return inSpan('gatehouse.verify', async (span) => {
    const r = await verifyCredential(deps, workspaceId, body, ip);
    span?.setAttributes({ 'gatehouse.credential': looksLikeJwt(body.key) ? 'access_token' : 'api_key', 'gatehouse.verify.code': r.code });
    return r;
  });
}

/** A JWT is an access token (docs/oauth.md): its signature, expiry and revocation, then the permission; anything else is a key. */
function verifyCredential(deps: ServerDeps, workspaceId: string, body: z.output<typeof verifyBody>, ip: string): VerifyResult | Promise<VerifyResult> {
  return looksLikeJwt(body.key)
    ? verifyAccessToken(tokenDeps(deps), { token: body.key, workspaceId, permission: body.permission })
    : verifyKeyNow({ secret: body.key, workspaceId, permission: body.permission, ip: body.ip ?? ip, cost: body.cost }, deps);
}

/** The route's JSON answer for a verification. */
export function verifyAnswer(r: VerifyResult): z.input<typeof verifyResponse> {
  return {
    valid: r.valid,
    code: r.code,
    key_id: r.keyId,
    permissions: r.permissions,
    ratelimit: r.ratelimit,
    quota: r.quota,
    credits: r.credits,
    expires_at: r.expires === null ? null : new Date(r.expires).toISOString(),
  };
}

export const verifyRoutes = [verifyRoute];
