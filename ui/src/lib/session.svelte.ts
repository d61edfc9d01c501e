import type { Outputs } from './trpc.js';

export type Me = NonNullable<Outputs['session']['me']>;

/** A workspace the operator is viewing as its customer (read-only): lib/view-as.svelte.ts. */
export interface ViewingAs {
  workspaceId: string;
  name: string;
}

/** Who is signed in; pages read `session.canWrite` to enable or disable their controls. */
class SessionState {
  /** While viewing as a customer: the customer's principal as the server sees it (read-only preset). */
  me = $state<Me | null>(null);
  /** The operator's own session, kept while `me` is the viewed customer's. */
  operatorMe = $state<Me | null>(null);
  viewingAs = $state<ViewingAs | null>(null);
  canWrite = $derived(this.viewingAs ? false : (this.me?.canWrite ?? false));
  /** The operator console is shown to a key holding `operator`, and not while viewing a customer. */
  isOperator = $derived(!this.viewingAs && (this.me?.scopes.includes('operator') ?? false));
  /** `limits:approve` without `operator` (a support role) sees the limit-request queue only. */
  canDecideLimits = $derived(!this.viewingAs && (this.me?.scopes.some((s) => s === 'operator' || s === 'limits:approve') ?? false));
}

export const session = new SessionState();

export const READ_ONLY_REASON = 'Your key is read-only: you can see everything here but change nothing.';
export const VIEW_AS_REASON = 'You are viewing this workspace as its customer: read-only.';
