import { getProviderApi, playgroundApi, registerInput, registerProviderApi, removeProviderApi } from '../../core/provider-api/service.js';
import { actorOf } from '../actor.js';
import { router, scopedProcedure } from '../trpc.js';

/** Registering the provider's API is the operator's; its operations are every workspace's to try. */
const operator = scopedProcedure('operator');

export const providerApiRouter = router({
  get: operator.query(({ ctx }) => getProviderApi(ctx.em)),

  /** The document as text; tRPC bodies are capped at 300 KB, so the console uploads through PUT /settings/provider-api. */
  register: operator.input(registerInput).mutation(({ ctx, input }) => registerProviderApi(ctx.em, actorOf(ctx), input)),

  remove: operator.mutation(async ({ ctx }) => {
    await removeProviderApi(ctx.em, actorOf(ctx));
    return { removed: true };
  }),

  /** The playground's list: operations by tag, with what the browser needs to make their example bodies. Null when none is registered. */
  operations: scopedProcedure('keys:read').query(({ ctx }) => playgroundApi(ctx.em)),
});
