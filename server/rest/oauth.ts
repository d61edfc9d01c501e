import { z } from 'zod';
import { closedObject } from '../../core/keys/schema.js';
import { loadWorkspaceOAuth, tokenTtlSchema, audiencesSchema, updateWorkspaceOAuth } from '../../core/oauth/settings.js';
import { SIGNING_ALGS, type SigningKeyView } from '../../core/oauth/signing-keys.js';
import { actorOf } from '../actor.js';
import { kidSchema, revokeKid, rotateNow, signingKeysOverview } from '../oauth/operator.js';
import { snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['oauth'];
const when = (description: string) => z.string().nullable().meta({ description, format: 'date-time' });

const SigningKeyBody = z
  .object({
    kid: z.string(),
    alg: z.enum(SIGNING_ALGS),
    state: z.enum(['next', 'active', 'retired', 'revoked']).meta({
      description: '`next`: published, signs nothing yet; `active`: signs; `retired`: published until its tokens expire; `revoked`: refused everywhere.',
    }),
    created_at: z.string().meta({ format: 'date-time' }),
    activated_at: when('When it began to sign.'),
    retired_at: when('When a newer key replaced it.'),
    revoked_at: when('When an operator revoked it.'),
    published_until: when('When a retired key leaves the JWKS.'),
  })
  .meta({ id: 'SigningKey' });

const signingKeyToRest = (k: SigningKeyView) => snakeKeys(k);

const OAuthSettingsBody = z
  .object({
    token_ttl_seconds: z.number().int().meta({ description: 'Lifetime of the access tokens its keys obtain.' }),
    audiences: z.array(z.string()).meta({ description: 'Audiences a token request may name; the first is the default.' }),
  })
  .meta({ id: 'OAuthSettings' });

const settingsToRest = (s: { tokenTtlSeconds: number; audiences: string[] }) => ({ token_ttl_seconds: s.tokenTtlSeconds, audiences: s.audiences });

export const getOAuthSettingsRoute = defineRoute({
  method: 'get',
  path: '/workspace/oauth',
  summary: 'This workspace’s OAuth settings: access-token lifetime and allowed audiences',
  tags: TAGS,
  scope: 'keys:read',
  response: OAuthSettingsBody,
  handler: async ({ ctx }) => settingsToRest(await loadWorkspaceOAuth(ctx.em, ctx.principal.workspaceId)),
});

export const updateOAuthSettingsRoute = defineRoute({
  method: 'patch',
  path: '/workspace/oauth',
  summary: 'Change this workspace’s access-token lifetime or allowed audiences (workspace administrators)',
  tags: TAGS,
  scope: 'limits:write',
  body: closedObject({ token_ttl_seconds: tokenTtlSchema.optional(), audiences: audiencesSchema.optional() }).meta({ id: 'UpdateOAuthSettings' }),
  response: OAuthSettingsBody,
  handler: async ({ ctx, body }) =>
    settingsToRest(await updateWorkspaceOAuth(ctx.em, actorOf(ctx), ctx.principal.workspaceId, { tokenTtlSeconds: body.token_ttl_seconds, audiences: body.audiences })),
});

export const listSigningKeysRoute = defineRoute({
  method: 'get',
  path: '/oauth/signing-keys',
  summary: 'Every OAuth signing key, newest first, and the next scheduled rotation (operators)',
  tags: TAGS,
  scope: 'operator',
  response: z.object({ signing_keys: z.array(SigningKeyBody), next_rotation_at: when('When the Schedule next rotates; null when none is scheduled.') }),
  handler: async ({ ctx }) => {
    const { keys, nextRotationAt } = await signingKeysOverview(ctx);
    return { signing_keys: keys.map(signingKeyToRest), next_rotation_at: nextRotationAt };
  },
});

export const rotateSigningKeyRoute = defineRoute({
  method: 'post',
  path: '/oauth/signing-keys/rotate',
  summary: 'Start a signing-key rotation now (operators); 409 while one is running',
  tags: TAGS,
  scope: 'operator',
  status: 202,
  errors: [409],
  response: z.object({ workflow_id: z.string().meta({ description: 'The rotation’s workflow in Temporal.' }), run_id: z.string() }),
  handler: async ({ ctx }) => {
    const { workflowId, runId } = await rotateNow(ctx);
    return { workflow_id: workflowId, run_id: runId };
  },
});

export const revokeSigningKeyRoute = defineRoute({
  method: 'post',
  path: '/oauth/signing-keys/{kid}/revoke',
  summary: 'Revoke a signing key at once (operators, emergency): its tokens stop verifying everywhere; a revoked active key is replaced',
  tags: TAGS,
  scope: 'operator',
  params: z.object({ kid: kidSchema }),
  response: z.object({ revoked: SigningKeyBody, replacement: SigningKeyBody.nullable() }),
  handler: async ({ ctx, params }) => {
    const { revoked, replacement } = await revokeKid(ctx, params.kid);
    return { revoked: signingKeyToRest(revoked), replacement: replacement && signingKeyToRest(replacement) };
  },
});

export const oauthRestRoutes = [getOAuthSettingsRoute, updateOAuthSettingsRoute, listSigningKeysRoute, rotateSigningKeyRoute, revokeSigningKeyRoute];
