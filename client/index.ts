import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '../server/routers/_app.js';

export type { AppRouter };
export { TRPCClientError, isTRPCClientError } from '@trpc/client';

export interface GatehouseClientOptions {
  /** Base URL of the Gatehouse API, e.g. `http://127.0.0.1:3000` (the `/trpc` path is added). */
  url: string;
  /** A Gatehouse API key; sent as `x-api-key` on every call. */
  apiKey: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

export type GatehouseClient = TRPCClient<AppRouter>;

/** A typed client for another TypeScript service: `await gatehouse.keys.create.mutate({ id: 'crm' })`. */
export function createGatehouseClient({ url, apiKey, fetch: fetchImpl }: GatehouseClientOptions): GatehouseClient {
  const base = url.replace(/\/+$/, '');
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${base}/trpc`, headers: { 'x-api-key': apiKey }, ...(fetchImpl ? { fetch: fetchImpl } : {}) })],
  });
}
