import { z } from 'zod';
import { MAX_COST, verifyKey } from '../../../core/keys/verify.js';
import { scopedProcedure } from '../../trpc.js';
import { recordContextVerification } from '../../usage-middleware.js';

/** The hot path's tRPC face: same checks and answers as `POST /v1/keys/verify`, in camelCase. */
export const keyVerifyProcedures = {
  verify: scopedProcedure('keys:verify')
    .input(
      z.object({
        key: z.string().min(1, 'expected the secret to verify').max(512, 'at most 512 characters'),
        permission: z.string().min(1).max(1000, 'at most 1000 characters').optional(),
        ip: z.union([z.ipv4(), z.ipv6()], { error: 'expected an IPv4 or IPv6 address' }).optional(),
        cost: z.number().int().min(0).max(MAX_COST).optional(),
      }),
    )
    // A mutation: it may consume rate-limit room and credits.
    .mutation(async ({ ctx, input }) => {
      const started = performance.now();
      const r = await verifyKey(
        { secret: input.key, workspaceId: ctx.principal.workspaceId, permission: input.permission, ip: input.ip ?? ctx.ip, cost: input.cost },
        ctx,
      );
      recordContextVerification(ctx, r, started);
      return r;
    }),
};
