// Read by emit-router-types.ts only (never built): AppRouter's procedures with every input and
// output spelled out structurally, so the emitted declaration names no server module.
import type { AnyTRPCRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure } from '@trpc/server';
import type { inferAsyncIterableYield, Serialize } from '@trpc/server/unstable-core-do-not-import';
import type { AppRouter } from '../../../server/routers/_app.js';

/** `T extends infer O` drops the alias, so the printer writes the object out instead of naming it. */
type Expand<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly unknown[]
    ? { [K in keyof T]: Expand<T[K]> }
    : T extends object
      ? T extends infer O
        ? { [K in keyof O]: Expand<O[K]> }
        : never
      : T;

type Shape<R> = {
  [K in keyof R]: R[K] extends TRPCQueryProcedure<infer D>
    ? { kind: 'query'; input: Expand<D['input']>; output: Expand<Serialize<D['output']>> }
    : R[K] extends TRPCMutationProcedure<infer D>
      ? { kind: 'mutation'; input: Expand<D['input']>; output: Expand<Serialize<D['output']>> }
      : R[K] extends TRPCSubscriptionProcedure<infer D>
        ? { kind: 'subscription'; input: Expand<D['input']>; output: Expand<Serialize<inferAsyncIterableYield<D['output']>>> }
        : R[K] extends AnyTRPCRouter
          ? never
          : Shape<R[K]>;
};

export declare const procedures: Shape<AppRouter['_def']['record']>;
export declare const errorShape: Expand<AppRouter['_def']['_config']['$types']['errorShape']>;
