// Rotation procedures (rotate, rotation state, end grace now, extend grace).
import { z } from 'zod';
import { keyIdSchema } from '../../../core/keys/schema.js';
import {
  endGraceNow,
  extendGrace,
  getRotationState,
  MAX_GRACE_SECONDS,
  rotateKey,
  type RotationDeps,
} from '../../../core/keys/rotation/commands.js';
import { actorOf } from '../../actor.js';
import type { Context } from '../../context.js';
import { scopedProcedure } from '../../trpc.js';

const keyId = keyIdSchema;

const RotationStateOut = z.object({
  phase: z.enum(['grace', 'completed']),
  keyId: z.string(),
  rotation: z.number().int(),
  rotatedAt: z.string(),
  graceEndsAt: z.string(),
  completedAt: z.string().nullable(),
});

function deps(ctx: Context): RotationDeps {
  return { em: ctx.em, temporal: ctx.temporal, log: ctx.log, config: ctx.config };
}

export const keyRotationProcedures = {
  /** Issues a new secret (returned once) and retires the current one after the grace period. */
  rotate: scopedProcedure('keys:write')
    .input(
      z.object({
        id: keyId,
        /** 0 = the old secret stops at once; default 86400 (24 h); at most 604800 (7 days). */
        gracePeriodSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const r = await rotateKey(deps(ctx), { actor: actorOf(ctx), keyId: input.id, gracePeriodSeconds: input.gracePeriodSeconds });
      return {
        id: r.keyId,
        apiKey: r.secret,
        start: r.start,
        rotation: r.rotation,
        createdAt: r.createdAt.toISOString(),
        previousKeyExpiresAt: r.previousKeyExpiresAt.toISOString(),
        gracePeriodSeconds: r.gracePeriodSeconds,
        workflowId: r.workflowId,
      };
    }),

  rotationState: scopedProcedure('keys:read')
    .input(z.object({ id: keyId }))
    .output(RotationStateOut)
    .query(({ ctx, input }) => getRotationState(deps(ctx), { workspaceId: ctx.principal.workspaceId, keyId: input.id })),

  /** Ends the latest rotation's grace period now; resolves once the old secret is revoked. */
  endGraceNow: scopedProcedure('keys:write')
    .input(z.object({ id: keyId }))
    .output(RotationStateOut)
    .mutation(({ ctx, input }) => endGraceNow(deps(ctx), { actor: actorOf(ctx), keyId: input.id })),

  /** Pushes the end of the latest rotation's grace period `seconds` later, up to 7 days after the rotation. */
  extendGrace: scopedProcedure('keys:write')
    .input(z.object({ id: keyId, seconds: z.number().int().min(1).max(MAX_GRACE_SECONDS) }))
    .output(RotationStateOut)
    .mutation(({ ctx, input }) =>
      extendGrace(deps(ctx), { actor: actorOf(ctx), keyId: input.id, seconds: input.seconds }),
    ),
};
