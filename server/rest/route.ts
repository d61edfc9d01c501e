import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Context } from '../context.js';

export type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

/**
 * One REST route: its zod schemas validate the request and, unchanged, describe it in
 * /openapi.json, so the document cannot drift from what the server accepts.
 */
export interface RouteDef<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType, H extends z.ZodObject = z.ZodObject<{}>> {
  method: Method;
  /** OpenAPI style: `/api-keys/{id}`. */
  path: string;
  summary: string;
  tags: string[];
  /** Omitted: the route is public. */
  scope?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads: validated (400 naming the header) and documented in OpenAPI. */
  headers?: H;
  status?: number;
  response: R;
  /** Extra documented error statuses beyond the 400/401/403/404/429/500 every route may answer. */
  errors?: number[];
  handler: (input: {
    params: z.output<P>;
    query: z.output<Q>;
    body: z.output<B>;
    headers: z.output<H>;
    ctx: Context & { principal: NonNullable<Context['principal']> };
    req: Request;
    res: Response;
  }) => Promise<z.input<R>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any, any, any>;

export function defineRoute<
  P extends z.ZodType = z.ZodObject<{}>,
  Q extends z.ZodType = z.ZodObject<{}>,
  B extends z.ZodType = z.ZodUndefined,
  R extends z.ZodType = z.ZodType,
  H extends z.ZodObject = z.ZodObject<{}>,
>(def: RouteDef<P, Q, B, R, H>): RouteDef<P, Q, B, R, H> {
  return def;
}

/** The error body every REST route answers with. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'invalid_input' }),
      message: z.string().meta({ example: "id: expected a string of 1-128 characters" }),
      field: z.string().optional(),
    }),
  })
  .meta({ id: 'Error' });
