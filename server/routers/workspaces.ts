import { z } from 'zod';
import { createWorkspace, createWorkspaceInput, getWorkspace, listWorkspaces, workspaceIdSchema } from '../../core/workspaces.js';
import { closedObject, listLimitSchema } from '../../core/keys/schema.js';
import { overviewInput, workspacesOverview } from '../../core/plans/overview.js';
import { overridesSchema, planIdSchema } from '../../core/plans/schema.js';
import { updateWorkspacePlan, workspaceDetail } from '../../core/plans/workspace-plan.js';
import { actorOf, keyDeps } from '../actor.js';
import { authedProcedure, router, scopedProcedure } from '../trpc.js';

export const workspacesRouter = router({
  /** The caller's own workspace. */
  current: authedProcedure.query(({ ctx }) => getWorkspace(ctx.em, ctx.principal.workspaceId)),

  /** The caller's own plan, effective limits and this month's use of them: any signed-in key. */
  limits: authedProcedure.query(({ ctx }) => workspaceDetail(ctx.em, ctx.principal.workspaceId)),

  /** Every tenant: operators only. */
  list: scopedProcedure('operator')
    .input(closedObject({ limit: listLimitSchema.optional(), cursor: z.string().max(400).optional() }).optional())
    .query(({ ctx, input }) => listWorkspaces(ctx.em, input ?? {})),

  /** The operator console's customers table: searched, sorted and paged in the database. */
  overview: scopedProcedure('operator')
    .input(overviewInput.optional())
    .query(({ ctx, input }) => workspacesOverview(ctx.em, input ?? {})),

  /** One tenant with its plan, overrides and effective limits: operators only. */
  get: scopedProcedure('operator')
    .input(closedObject({ id: workspaceIdSchema }))
    .query(({ ctx, input }) => workspaceDetail(ctx.em, input.id)),

  /** Assigns a plan (null: none) and/or replaces the tenant's overrides ({} clears them): operators only. */
  update: scopedProcedure('operator')
    .input(closedObject({ id: workspaceIdSchema, plan: planIdSchema.nullable().optional(), overrides: overridesSchema.optional() }))
    .mutation(({ ctx, input }) => updateWorkspacePlan(ctx.em, actorOf(ctx), input)),

  /** A new tenant with its first admin key, whose secret is in `adminKey.secret` this once. */
  create: scopedProcedure('operator')
    .input(createWorkspaceInput)
    .mutation(({ ctx, input }) => createWorkspace(keyDeps(ctx), actorOf(ctx), input)),
});
