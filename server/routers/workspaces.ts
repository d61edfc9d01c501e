import { z } from 'zod';
import { createWorkspace, createWorkspaceInput, getWorkspace, listWorkspaces } from '../../core/workspaces.js';
import { closedObject, listLimitSchema } from '../../core/keys/schema.js';
import { actorOf, keyDeps } from '../actor.js';
import { authedProcedure, router, scopedProcedure } from '../trpc.js';

export const workspacesRouter = router({
  /** The caller's own workspace. */
  current: authedProcedure.query(({ ctx }) => getWorkspace(ctx.em, ctx.principal.workspaceId)),

  /** Every tenant: operators only. */
  list: scopedProcedure('operator')
    .input(closedObject({ limit: listLimitSchema.optional(), cursor: z.string().max(400).optional() }).optional())
    .query(({ ctx, input }) => listWorkspaces(ctx.em, input ?? {})),

  /** A new tenant with its first admin key, whose secret is in `adminKey.secret` this once. */
  create: scopedProcedure('operator')
    .input(createWorkspaceInput)
    .mutation(({ ctx, input }) => createWorkspace(keyDeps(ctx), actorOf(ctx), input)),
});
