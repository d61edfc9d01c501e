import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { hasScope } from '../core/permissions.js';
import type { Context } from './context.js';
import { badRequest, HttpError } from '../core/errors.js';
import { inputProblem } from './input-guard.js';
import { enforceCallerRateLimit } from './auth/rate-limit.js';
import { SELF_COUNTING_ROUTES } from './usage-middleware.js';
import { trackingKeyChanges } from '../core/keys/change-scope.js';

const codeFor: Record<number, TRPCError['code']> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/** What a procedure declares about itself: `scope` is set by scopedProcedure, so tests derive who may call what from the router. */
export interface ProcedureMeta {
  scope?: string;
}

const t = initTRPC
  .context<Context>()
  .meta<ProcedureMeta>()
  .create({
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      return {
        ...shape,
        data: {
          ...shape.data,
          stack: undefined,
          field: cause instanceof HttpError ? cause.field : undefined,
          // The REST error's code (`read_only`, `plan_limit`…), for clients that act on the reason.
          reason: cause instanceof HttpError ? cause.code : undefined,
          issues: cause instanceof ZodError ? cause.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) : undefined,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** An HttpError as the tRPC error with the matching code and the same safe message. */
export function toTRPCError(cause: HttpError): TRPCError {
  return new TRPCError({ code: codeFor[cause.status] ?? 'INTERNAL_SERVER_ERROR', message: cause.message, cause });
}

/** Core code throws HttpError; tRPC callers get the matching code with the same safe message. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof HttpError) throw toTRPCError(result.error.cause);
  return result;
});

/**
 * The input guard REST runs too (server/input-guard.ts), on the raw input before any procedure's
 * schema: NUL, lone surrogates and over-deep nesting are a 400 naming the field, never a 500.
 */
const guardInput = t.middleware(async ({ getRawInput, next }) => {
  const problem = inputProblem(await getRawInput());
  if (problem) throw badRequest(`${problem.path || 'input'}: ${problem.message}`, problem.path || undefined);
  return next();
});

export const publicProcedure = t.procedure.use(mapErrors).use(guardInput);

export const authedProcedure = publicProcedure.use(async ({ ctx, next, path }) => {
  if (ctx.refusal) throw toTRPCError(ctx.refusal);
  if (!ctx.principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Missing or invalid API key' });
  const selfCounting = SELF_COUNTING_ROUTES.has(`/trpc/${path}`);
  // The calling key's own rate limits: a 429 here surfaces as TOO_MANY_REQUESTS through mapErrors.
  await enforceCallerRateLimit(ctx.verifier, ctx.principal, ctx.http?.res, { selfCounting });
  const principal = ctx.principal;
  const run = () => next({ ctx: { ...ctx, principal } });
  const { result, changed } = await trackingKeyChanges(run);
  // As REST's writes: answered once this process has heard its own key changes (core/keys/change-scope.ts).
  if (changed) await ctx.verifier.catchUp();
  return result;
});

/** Authorisation lives here, never in a handler: `scopedProcedure('keys:write')`. */
export function scopedProcedure(scope: string) {
  return authedProcedure.meta({ scope }).use(({ ctx, next }) => {
    if (!hasScope(ctx.principal.scopes, scope)) {
      throw new TRPCError({ code: 'FORBIDDEN', message: `This API key lacks the '${scope}' permission` });
    }
    return next();
  });
}
