import { TRPCError } from '@trpc/server';

/** A tRPC call's refusal: its code and the field it names (an HttpError's field, or the first zod issue's path). */
export async function failure(call: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(err)}`);
  const cause = err.cause as { field?: string; issues?: { path: PropertyKey[] }[] } | undefined;
  return { code: err.code, field: cause?.field ?? cause?.issues?.[0]?.path.map(String).join('.') };
}
