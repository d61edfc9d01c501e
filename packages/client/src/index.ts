import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '@gatehouse/client/app-router';
import { retryingFetch, type RetryOptions } from './retrying-fetch.js';

export type { AppRouter };
export { TRPCClientError, isTRPCClientError } from '@trpc/client';
export * from './rest.js';
export type { RetryOptions } from './retrying-fetch.js';

export interface GatehouseClientOptions extends RetryOptions {
  /** Base URL of the Gatehouse API, e.g. `http://127.0.0.1:3000` (the `/trpc` path is added). */
  url: string;
  /** A Gatehouse API key; sent as `x-api-key` on every call. */
  apiKey: string;
}

export type GatehouseClient = TRPCClient<AppRouter>;

/**
 * A typed client for another TypeScript service: `await gatehouse.keys.create.mutate({ id: 'crm' })`.
 * Queries are retried on 429 and 5xx (honouring Retry-After); mutations on 429 only.
 */
export function createGatehouseClient(opts: GatehouseClientOptions): GatehouseClient {
  const base = opts.url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${base}/trpc`, headers: { 'x-api-key': opts.apiKey }, fetch: retryingFetch(opts) })],
  });
}
