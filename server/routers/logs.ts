import { setTimeout as sleep } from 'node:timers/promises';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { hasScope } from '../../core/permissions.js';
import { LogTail } from '../../core/usage/log-tail.js';
import { LOG_KINDS, LOG_SOURCES, logSources, searchLogs, STATUS_FILTER } from '../../core/usage/logs.js';
import type { Context } from '../context.js';
import type { Principal } from '../auth/principal.js';
import { router, scopedProcedure } from '../trpc.js';

const time = z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional();

export const logsSearchInput = z.strictObject({
  keyId: z.string().min(1).max(128).optional(),
  route: z.string().min(1).max(200).optional(),
  method: z.string().regex(/^[A-Za-z]{3,10}$/, 'expected an HTTP method').optional(),
  status: z.string().regex(STATUS_FILTER, 'expected a status such as 404 or a class such as 4xx').optional(),
  source: z.enum(LOG_SOURCES).optional(),
  kind: z.enum(LOG_KINDS).optional(),
  from: time,
  to: time,
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(500).optional(),
});

const TAIL_POLL_MS = 1_000;
/**
 * Live tails one workspace may hold open at once, per API process. Each polls PostgreSQL every
 * second for as long as the client stays, so without a cap one key could open enough of them to
 * load the database for everyone.
 */
export const MAX_TAILS_PER_WORKSPACE = 5;
const openTails = new Map<string, number>();

/** Takes one of the workspace's tail slots; the returned function gives it back (once, however often called). */
function claimTailSlot(workspaceId: string): () => void {
  const open = openTails.get(workspaceId) ?? 0;
  if (open >= MAX_TAILS_PER_WORKSPACE) {
    throw new TRPCError({
      code: 'TOO_MANY_REQUESTS',
      message: `At most ${MAX_TAILS_PER_WORKSPACE} live tails may be open at once in a workspace; close one first`,
    });
  }
  openTails.set(workspaceId, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (openTails.get(workspaceId) ?? 1) - 1;
    if (left > 0) openTails.set(workspaceId, left);
    else openTails.delete(workspaceId);
  };
}

/**
 * The caller, resolved again as a new request would be: a stream lives for hours, and the key or
 * session it started with may be revoked, disabled, expired, signed out, narrowed or moved behind
 * an allowlist in the meantime. Any of those ends the stream with an error.
 */
async function assertStillAllowed(ctx: Context & { principal: Principal }): Promise<void> {
  const now = await ctx.principal.recheck?.();
  if (!now || now.keyPk !== ctx.principal.keyPk) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'The API key or session this tail was opened with is no longer valid' });
  }
  if (!hasScope(now.scopes, 'usage:read')) throw new TRPCError({ code: 'FORBIDDEN', message: "This API key lacks the 'usage:read' permission" });
  if (now.allowlist && !now.allowlist.allows(ctx.ip)) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'This API key may not be used from this address' });
  }
}

const logsTailInput = z.strictObject({ keyId: z.string().min(1).max(128).optional(), source: z.enum(LOG_SOURCES).optional(), kind: z.enum(LOG_KINDS).optional() });
type LogsTailInput = z.output<typeof logsTailInput>;

export const logsRouter = router({
  /** The request log, newest first, keyset-paginated (`nextCursor` → `cursor`). */
  search: scopedProcedure('usage:read')
    .input(logsSearchInput.optional())
    .query(({ ctx, input }) => searchLogs(ctx.em, ctx.principal.workspaceId, input ?? {})),

  /**
   * Live tail over SSE (httpSubscriptionLink): records written after the subscription started,
   * polled once a second (records reach the table in batches anyway; core/usage/log-tail.ts).
   * Stops when the client goes, and with an error once the caller may no longer read the log
   * (checked before every poll).
   */
  tail: scopedProcedure('usage:read')
    .input(logsTailInput.optional())
    .subscription(async ({ ctx, input, signal }) => {
      // Where the tail starts is read before the stream answers `connected` (tRPC sends it once
      // this resolver has returned): a record written after the client saw `connected` is always
      // streamed. Read inside the stream, a slow first poll could start past it (seen in CI).
      const tail = await LogTail.open(ctx.em, ctx.principal.workspaceId, logSources(input ?? {}));
      return streamTail(ctx, input ?? {}, tail, signal);
    }),
});

/** The tail's stream: every record of the caller's workspace written after it opened, as it is written. */
async function* streamTail(ctx: Context & { principal: Principal }, input: LogsTailInput, tail: LogTail, signal: AbortSignal | undefined) {
  // Claimed when the stream starts, so a stream that never starts holds no slot.
  const release = claimTailSlot(ctx.principal.workspaceId);
  signal?.addEventListener('abort', release, { once: true });
  try {
    while (!signal?.aborted) {
      await assertStillAllowed(ctx);
      const { entries, more } = await tail.poll(ctx.em.fork());
      for (const e of entries) if (!input.keyId || e.keyId === input.keyId) yield e;
      // Aborted with the request, so a client leaving frees its slot at once, not a poll later.
      if (!more) await sleep(TAIL_POLL_MS, undefined, { signal });
    }
  } finally {
    release();
  }
}
