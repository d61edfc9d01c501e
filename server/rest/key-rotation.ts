import { z } from 'zod';
import { keyIdSchema } from '../../core/keys/schema.js';
import {
  endGraceNow,
  extendGrace,
  getRotationState,
  MAX_GRACE_SECONDS,
  rotateKey,
  type RotationDeps,
  type RotationState,
} from '../../core/keys/rotation/commands.js';
import { closedObject } from '../../core/keys/schema.js';
import { actorOf } from '../actor.js';
import type { Context } from '../context.js';
import { snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const Params = z.object({
  id: keyIdSchema,
});

const RotationStateBody = z
  .object({
    key_id: z.string(),
    rotation: z.number().int().meta({ description: "The key's rotation count after this rotation" }),
    phase: z.enum(['grace', 'completed']).meta({ description: 'grace: the previous secret still works; completed: it is revoked' }),
    rotated_at: z.string(),
    grace_ends_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .meta({ id: 'KeyRotation' });

function deps(ctx: Context): RotationDeps {
  return { em: ctx.em, temporal: ctx.temporal, log: ctx.log, config: ctx.config };
}

/** The state without its workspace (the caller's own), in the order the API has always sent. */
function toBody({ keyId, rotation, phase, rotatedAt, graceEndsAt, completedAt }: RotationState): z.input<typeof RotationStateBody> {
  return snakeKeys({ keyId, rotation, phase, rotatedAt, graceEndsAt, completedAt });
}

export const rotateKeyRoute = defineRoute({
  method: 'post',
  path: '/api-keys/{id}/rotate',
  summary: 'Rotate an API key: a new secret now (shown once), the previous one works until the grace period ends',
  tags: ['api-keys'],
  scope: 'keys:write',
  params: Params,
  body: closedObject({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS)
      .optional()
      .meta({ description: '0 = the previous secret stops at once; default 86400 (24 h); at most 604800 (7 days)', example: 3600 }),
  }),
  status: 201,
  errors: [409],
  response: z
    .object({
      id: z.string(),
      api_key: z.string().meta({ description: 'The new secret. Shown only in this response; store it now.' }),
      created_at: z.string(),
      previous_key_expires_at: z.string(),
    })
    .meta({ id: 'RotatedKey' }),
  handler: async ({ params, body, ctx }) => {
    const r = await rotateKey(deps(ctx), {
      actor: actorOf(ctx),
      keyId: params.id,
      gracePeriodSeconds: body.grace_period_seconds,
    });
    return snakeKeys({
      id: r.keyId,
      apiKey: r.secret,
      createdAt: r.createdAt.toISOString(),
      previousKeyExpiresAt: r.previousKeyExpiresAt.toISOString(),
    });
  },
});

export const keyRotationStateRoute = defineRoute({
  method: 'get',
  path: '/api-keys/{id}/rotation',
  summary: "State of the key's latest rotation",
  tags: ['api-keys'],
  scope: 'keys:read',
  params: Params,
  response: RotationStateBody,
  handler: async ({ params, ctx }) => toBody(await getRotationState(deps(ctx), { workspaceId: ctx.principal.workspaceId, keyId: params.id })),
});

export const endGraceRoute = defineRoute({
  method: 'post',
  path: '/api-keys/{id}/rotation/end-grace',
  summary: 'End the grace period of the latest rotation now: the previous secret is revoked before this answers',
  tags: ['api-keys'],
  scope: 'keys:write',
  params: Params,
  response: RotationStateBody,
  handler: async ({ params, ctx }) => toBody(await endGraceNow(deps(ctx), { actor: actorOf(ctx), keyId: params.id })),
});

export const extendGraceRoute = defineRoute({
  method: 'post',
  path: '/api-keys/{id}/rotation/extend-grace',
  summary: 'Keep the previous secret working longer (the grace period never ends more than 7 days after the rotation)',
  tags: ['api-keys'],
  scope: 'keys:write',
  params: Params,
  body: closedObject({
    seconds: z.number().int().min(1).max(MAX_GRACE_SECONDS).meta({ description: 'Added to the current end of the grace period', example: 3600 }),
  }),
  errors: [409],
  response: RotationStateBody,
  handler: async ({ params, body, ctx }) =>
    toBody(await extendGrace(deps(ctx), { actor: actorOf(ctx), keyId: params.id, seconds: body.seconds })),
});

export const keyRotationRoutes = [rotateKeyRoute, keyRotationStateRoute, endGraceRoute, extendGraceRoute];
