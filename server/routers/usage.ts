import { z } from 'zod';
import { keysUsage, keyUsage, MAX_KEYS_PER_USAGE_CALL } from '../../core/usage/key-usage.js';
import { keyHistory, KEY_HISTORY_RANGES, type KeyHistoryRange } from '../../core/usage/key-history.js';
import { MAX_POINTS, summary, timeseries } from '../../core/usage/queries.js';
import { providerUsage, ProviderUsageInput } from '../../core/usage/provider.js';
import { badRequest } from '../../core/errors.js';
import { resolveRange } from '../../core/usage/range.js';
import { router, scopedProcedure } from '../trpc.js';

// Answers are core's camelCase views as they are (the REST routes map them to snake_case).

const time = z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional();
const keyId = z.string().min(1).max(128).optional();
const rangeInput = z.strictObject({ from: time, to: time, keyId });

export const usageRouter = router({
  /** Calls, errors, latency and health score of the workspace; default this month (UTC). */
  summary: scopedProcedure('usage:read')
    .input(rangeInput.optional())
    .query(({ ctx, input }) => summary(ctx.em, ctx.principal.workspaceId, resolveRange(input ?? {}), input?.keyId)),

  /** One key: calls today and this month, rate limits as used now, credits left. */
  key: scopedProcedure('usage:read')
    .input(z.strictObject({ id: z.string().min(1).max(128) }))
    .query(({ ctx, input }) => keyUsage(ctx.em, ctx.principal.workspaceId, input.id)),

  /** Many keys at once (the keys and usage pages): by key id; ids of no key of the workspace are left out. */
  keys: scopedProcedure('usage:read')
    .input(z.strictObject({ ids: z.array(z.string().min(1).max(128)).max(MAX_KEYS_PER_USAGE_CALL, `at most ${MAX_KEYS_PER_USAGE_CALL} keys per call`) }))
    .query(({ ctx, input }) => keysUsage(ctx.em, ctx.principal.workspaceId, input.ids)),

  /** Passed vs refused verifications of one key over time (refusals by code), for its history chart. */
  keyHistory: scopedProcedure('usage:read')
    .input(z.strictObject({ keyId: z.string().min(1).max(128), range: z.enum(Object.keys(KEY_HISTORY_RANGES) as [KeyHistoryRange, ...KeyHistoryRange[]]).default('24h') }))
    .query(({ ctx, input }) => keyHistory(ctx.em, ctx.principal.workspaceId, input.keyId, input.range)),

  /** The provider's charts (operators only): calls and errors per day across every workspace, top 10 customers. */
  provider: scopedProcedure('operator')
    .input(ProviderUsageInput.optional())
    .query(({ ctx, input }) => providerUsage(ctx.em, input ?? {})),

  /** Points per hour or UTC day for charts, gaps filled with zeros. */
  timeseries: scopedProcedure('usage:read')
    .input(rangeInput.extend({ interval: z.enum(['hour', 'day']).default('day') }).optional())
    .query(async ({ ctx, input }) => {
      const interval = input?.interval ?? 'day';
      const range = resolveRange(input ?? {});
      const step = interval === 'hour' ? 3_600_000 : 86_400_000;
      if ((range.to.getTime() - range.from.getTime()) / step > MAX_POINTS) throw badRequest(`to: at most ${MAX_POINTS} ${interval}s per request`, 'to');
      const points = await timeseries(ctx.em, ctx.principal.workspaceId, range, interval, input?.keyId);
      return { interval, from: range.from.toISOString(), to: range.to.toISOString(), points };
    }),
});
