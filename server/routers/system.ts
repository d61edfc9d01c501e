import { z } from 'zod';
import { scopedProcedure, authedProcedure, router } from '../trpc.js';
import { selfTestWorkflow } from '../../workflows/diagnostics.js';
import { randomBytes } from 'node:crypto';
import { selfTestWorkflowId } from '../../temporal/workflow-ids.js';
import { temporalUiUrl } from '../../core/config.js';
import { HttpError } from '../../core/errors.js';

export const systemRouter = router({
  /** Who the caller is, as Gatehouse sees it: the UI's first call after sign-in. */
  whoami: authedProcedure.query(({ ctx }) => ({
    workspaceId: ctx.principal.workspaceId,
    keyId: ctx.principal.keyId,
    scopes: [...ctx.principal.scopes].sort(),
  })),

  /** Where the operator's tools are: the UI links each delivery and rotation to its workflow there. */
  info: authedProcedure.query(({ ctx }) => ({
    temporalUiUrl: temporalUiUrl(ctx.config),
    temporalNamespace: ctx.config.TEMPORAL_NAMESPACE,
  })),

  /** API → Temporal → worker → PostgreSQL round trip; the workflow is visible in the Temporal Web UI. */
  selfTest: scopedProcedure('keys:read')
    .output(z.object({ workspaceId: z.string(), keys: z.number(), activeKeys: z.number(), workflowId: z.string() }))
    .mutation(async ({ ctx }) => {
      try {
        return await ctx.temporal.client.workflow.execute(selfTestWorkflow, {
          taskQueue: ctx.temporal.taskQueue,
          workflowId: selfTestWorkflowId(ctx.principal.workspaceId, randomBytes(8).toString('hex')),
          args: [ctx.principal.workspaceId],
          typedSearchAttributes: undefined,
          // A healthy worker answers in well under a second; no answer means none is polling.
          workflowExecutionTimeout: '20 seconds',
        });
      } catch (err) {
        // Temporal unreachable, or no worker finished the round trip: the answer the self-test exists to give.
        ctx.log.warn({ err }, 'self-test did not complete');
        throw new HttpError(503, 'self_test_failed', 'The self-test did not complete: Temporal or the worker did not answer in time', undefined, { 'Retry-After': '5' });
      }
    }),
});
