import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Whether the work of one request sent a change on the key-change channel (a key, a workspace's
 * limits, a plan, OAuth settings: core/keys/notify.ts). Only such a request waits to hear its own
 * change (KeyVerifier.catchUp) before it answers; a write that changes nothing the verifier caches
 * (an event published, an endpoint created) answers without that marker's round trip through
 * PostgreSQL, which was one transaction in five of a webhook's publish (BENCHMARKS.md,
 * "Writes wait only for their own key changes").
 */
const scope = new AsyncLocalStorage<{ changed: boolean }>();

/** Runs `fn` and says whether it sent a key change. */
export async function trackingKeyChanges<T>(fn: () => Promise<T>): Promise<{ result: T; changed: boolean }> {
  const state = { changed: false };
  const result = await scope.run(state, fn);
  return { result, changed: state.changed };
}

/** Called by the one function that sends on the channel. */
export function keyChangeSent(): void {
  const state = scope.getStore();
  if (state) state.changed = true;
}
