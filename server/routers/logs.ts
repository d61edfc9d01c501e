import { z } from 'zod';
import { lastLogId, logsAfter, searchLogs, STATUS_FILTER } from '../../core/usage/logs.js';
import { router, scopedProcedure } from '../trpc.js';

const time = z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional();

export const logsSearchInput = z.strictObject({
  keyId: z.string().min(1).max(128).optional(),
  route: z.string().min(1).max(200).optional(),
  method: z.string().regex(/^[A-Za-z]{3,10}$/, 'expected an HTTP method').optional(),
  status: z.string().regex(STATUS_FILTER, 'expected a status such as 404 or a class such as 4xx').optional(),
  source: z.enum(['api', 'verification', 'service']).optional(),
  from: time,
  to: time,
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(500).optional(),
});

const TAIL_POLL_MS = 1_000;

export const logsRouter = router({
  /** The request log, newest first, keyset-paginated (`nextCursor` → `cursor`). */
  search: scopedProcedure('usage:read')
    .input(logsSearchInput.optional())
    .query(({ ctx, input }) => searchLogs(ctx.em, ctx.principal.workspaceId, input ?? {})),

  /**
   * Live tail over SSE (httpSubscriptionLink): records written after the subscription started,
   * polled once a second (records reach the table in batches anyway). Stops when the client goes.
   */
  tail: scopedProcedure('usage:read')
    .input(z.strictObject({ keyId: z.string().min(1).max(128).optional() }).optional())
    .subscription(async function* ({ ctx, input, signal }) {
      let after = await lastLogId(ctx.em, ctx.principal.workspaceId);
      while (!signal?.aborted) {
        const entries = await logsAfter(ctx.em.fork(), ctx.principal.workspaceId, after);
        for (const e of entries) {
          after = e.id;
          if (!input?.keyId || e.key_id === input.keyId) yield e;
        }
        if (entries.length === 0) await new Promise((r) => setTimeout(r, TAIL_POLL_MS));
      }
    }),
});
