import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../../server/routers/_app.js';

export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;

/**
 * Set while an operator views a workspace as its customer (lib/view-as.svelte.ts): every query
 * carries it, so the customer's own pages show the customer's data, read-only.
 */
let viewingAs: string | null = null;
export function setViewAsHeader(workspaceId: string | null): void {
  viewingAs = workspaceId;
}
export const VIEW_AS_HEADER = 'x-gatehouse-view-as';

/**
 * The UI's only way to the server. The session cookie rides along (same origin); every request
 * carries the CSRF header the server demands of cookie-authenticated writes. Subscriptions go over
 * server-sent events, everything else in batches.
 */
export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      // EventSource cannot send headers: a view-as tail names the workspace in its connection params.
      true: httpSubscriptionLink({ url: '/trpc', connectionParams: () => (viewingAs ? { [VIEW_AS_HEADER]: viewingAs } : null) }),
      // Batches are split before a GET's URL outgrows what Node accepts (16 KB of headers): the
      // keys page asks for every key's usage at once. 50 calls is the server's cap per batch
      // (MAX_TRPC_BATCH in server/app.ts); a larger batch is refused whole. Mutations never carry
      // the view-as header (the server refuses them with it): sign-out still works while viewing.
      false: httpBatchLink({
        url: '/trpc',
        maxURLLength: 8_000,
        maxItems: 50,
        headers: ({ opList }) => ({
          'x-gatehouse-csrf': '1',
          ...(viewingAs && opList.every((op) => op.type === 'query') ? { [VIEW_AS_HEADER]: viewingAs } : {}),
        }),
      }),
    }),
  ],
});

/** A message fit to show: the server's own words for expected errors, a generic line otherwise. */
export function errorMessage(err: unknown): string {
  if (err instanceof TRPCClientError) {
    const data = err.data as { code?: string; issues?: { path: string; message: string }[] } | undefined;
    const issue = data?.issues?.[0];
    if (issue) return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
    if (data?.code === 'INTERNAL_SERVER_ERROR') return 'The server hit an error; it has been logged. Try again.';
    return err.message;
  }
  if (err instanceof TypeError) return 'Could not reach the Gatehouse API. Check that it is running.';
  return err instanceof Error ? err.message : String(err);
}

/** A query acting as `workspaceId`'s customer, outside view-as mode: the operator's workspace page charts. */
export function viewAsClient(workspaceId: string) {
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: '/trpc', maxURLLength: 8_000, maxItems: 50, headers: () => ({ 'x-gatehouse-csrf': '1', [VIEW_AS_HEADER]: workspaceId }) })],
  });
}

/** The server's reason code (`read_only`, `plan_limit`…) when it gave one. */
export function errorReason(err: unknown): string | undefined {
  return err instanceof TRPCClientError ? (err.data as { reason?: string } | undefined)?.reason : undefined;
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof TRPCClientError && (err.data as { code?: string } | undefined)?.code === 'UNAUTHORIZED';
}
