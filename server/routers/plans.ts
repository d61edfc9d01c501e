import { closedObject } from '../../core/keys/schema.js';
import { createPlanInput, planIdSchema, updatePlanFields } from '../../core/plans/schema.js';
import { createPlan, deletePlan, getPlan, listPlans, updatePlan } from '../../core/plans/service.js';
import { actorOf } from '../actor.js';
import { router, scopedProcedure } from '../trpc.js';

/** What a provider sells its customers: operators only. */
const operator = scopedProcedure('operator');

export const plansRouter = router({
  list: operator.query(({ ctx }) => listPlans(ctx.em)),

  get: operator.input(closedObject({ id: planIdSchema })).query(({ ctx, input }) => getPlan(ctx.em, input.id)),

  create: operator.input(createPlanInput).mutation(({ ctx, input }) => createPlan(ctx.em, actorOf(ctx), input)),

  /** Fields beside the id; each given replaces the plan's. */
  update: operator
    .input(closedObject({ id: planIdSchema, ...updatePlanFields.shape }))
    .mutation(({ ctx, input }) => {
      const { id, ...fields } = input;
      return updatePlan(ctx.em, actorOf(ctx), id, fields);
    }),

  /** A plan in use is a CONFLICT naming its workspaces. */
  delete: operator.input(closedObject({ id: planIdSchema })).mutation(({ ctx, input }) => deletePlan(ctx.em, actorOf(ctx), input.id)),
});
