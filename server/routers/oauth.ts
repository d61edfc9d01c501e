import { closedObject } from '../../core/keys/schema.js';
import { loadWorkspaceOAuth, updateOAuthSettingsInput, updateWorkspaceOAuth } from '../../core/oauth/settings.js';
import { actorOf } from '../actor.js';
import { kidSchema, revokeKid, rotateNow, signingKeysOverview } from '../oauth/operator.js';
import { authedProcedure, router, scopedProcedure } from '../trpc.js';

/** OAuth: the workspace's token settings, and the operator's signing keys (docs/oauth.md). */
export const oauthRouter = router({
  /** The caller's workspace: token lifetime and allowed audiences. */
  settings: authedProcedure.query(({ ctx }) => loadWorkspaceOAuth(ctx.em, ctx.principal.workspaceId)),

  /** The workspace's administrator (`limits:write`, as for its other limits) changes them. */
  updateSettings: scopedProcedure('limits:write')
    .input(updateOAuthSettingsInput)
    .mutation(({ ctx, input }) => updateWorkspaceOAuth(ctx.em, actorOf(ctx), ctx.principal.workspaceId, input)),

  /** Every signing key, newest first, and when the Schedule next rotates: operators only. */
  signingKeys: scopedProcedure('operator').query(({ ctx }) => signingKeysOverview(ctx)),

  /** Starts a rotation now (409 while one runs); it shows in Temporal as `signing-key-rotation:<queue>:now`. */
  rotateSigningKey: scopedProcedure('operator').mutation(({ ctx }) => rotateNow(ctx)),

  /** Emergency: the key's tokens stop verifying everywhere at once; a revoked active key is replaced at once. */
  revokeSigningKey: scopedProcedure('operator')
    .input(closedObject({ kid: kidSchema }))
    .mutation(({ ctx, input }) => revokeKid(ctx, input.kid)),
});
