import { z } from 'zod';
import { approveLimitRequest, ApproveInput, declineLimitRequest, DeclineInput } from '../../core/limits/decide.js';
import { limitActor, limitDeps } from '../../core/limits/deps.js';
import { CreateLimitRequestInput, createLimitRequest, LimitQueueInput, limitRequestQueue, listLimitRequests, ListLimitRequestsInput } from '../../core/limits/requests.js';
import { router, scopedProcedure } from '../trpc.js';

const id = z.string().min(1).max(64);

/**
 * Limit-increase requests: a customer files them (`usage:write` for a key's limit, `limits:write`
 * for the workspace's quota or plan, checked in core), the provider decides them (`limits:approve`,
 * which every operator holds) across workspaces.
 */
export const limitsRouter = router({
  request: scopedProcedure('usage:write')
    .input(CreateLimitRequestInput)
    .mutation(({ ctx, input }) => createLimitRequest(limitDeps(ctx), limitActor(ctx), input)),

  /** The caller's own workspace's requests, newest first. */
  requests: scopedProcedure('usage:read')
    .input(ListLimitRequestsInput.optional())
    .query(({ ctx, input }) => listLimitRequests(ctx.em, ctx.principal.workspaceId, input ?? {})),

  /** Every workspace's requests (the provider's queue), newest first. */
  queue: scopedProcedure('limits:approve')
    .input(LimitQueueInput.optional())
    .query(({ ctx, input }) => limitRequestQueue(ctx.em, input ?? {})),

  approve: scopedProcedure('limits:approve')
    .input(ApproveInput.extend({ id }))
    .mutation(({ ctx, input: { id, ...decision } }) => approveLimitRequest(limitDeps(ctx), limitActor(ctx), id, decision)),

  decline: scopedProcedure('limits:approve')
    .input(DeclineInput.extend({ id }))
    .mutation(({ ctx, input: { id, ...decision } }) => declineLimitRequest(limitDeps(ctx), limitActor(ctx), id, decision)),
});
