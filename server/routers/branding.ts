import { updateBrandingInput } from '../../core/branding/schema.js';
import { getBranding, removeLogo, updateBranding } from '../../core/branding/service.js';
import { actorOf } from '../actor.js';
import { publicProcedure, router, scopedProcedure } from '../trpc.js';

/** Logos are uploaded over REST (`PUT /settings/branding/logo`): an image body, not JSON. */
const operator = scopedProcedure('operator');

export const brandingRouter = router({
  /** Public: the sign-in page shows the product before anyone signs in. */
  get: publicProcedure.query(({ ctx }) => getBranding(ctx.em)),

  update: operator.input(updateBrandingInput).mutation(({ ctx, input }) => updateBranding(ctx.em, actorOf(ctx), input)),

  removeLogo: operator.mutation(({ ctx }) => removeLogo(ctx.em, actorOf(ctx))),
});
