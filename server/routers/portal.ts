import { closedObject } from '../../core/keys/schema.js';
import { linkWorkspaceSchema, personSchema, returnUrlSchema, revokePerson, roleSchema, ttlSchema, userIdSchema } from '../../core/portal/links.js';
import { gettingStarted } from '../../core/portal/getting-started.js';
import { createPortalLink, publicBase } from '../portal-links.js';
import { authedProcedure, router, scopedProcedure } from '../trpc.js';

/** The provider's backend signs its customers in to the portal: operators only. */
const operator = scopedProcedure('operator');

export const portalRouter = router({
  /** A single-use sign-in link for one person of one workspace, valid `ttlSeconds` (default 300, at most 600). */
  createSession: operator
    .input(closedObject({ workspaceId: linkWorkspaceSchema, user: personSchema, role: roleSchema, returnUrl: returnUrlSchema.optional(), ttlSeconds: ttlSchema.optional() }))
    .mutation(({ ctx, input }) => createPortalLink(ctx, ctx.http?.req, input)),

  /** Ends every portal session of a person (in one workspace when given). */
  revokeSessions: operator
    .input(closedObject({ userId: userIdSchema, workspaceId: linkWorkspaceSchema.optional() }))
    .mutation(({ ctx, input }) => revokePerson(ctx.em, input.userId, input.workspaceId)),

  /** The getting-started page of the signed-in workspace: the provider's API, its newest key (masked), its plan's limits. */
  gettingStarted: authedProcedure.query(({ ctx }) => gettingStarted(ctx.em, ctx.principal.workspaceId, publicBase(ctx, ctx.http?.req))),
});
