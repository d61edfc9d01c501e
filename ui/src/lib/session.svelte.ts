import type { Outputs } from './trpc.js';

export type Me = NonNullable<Outputs['session']['me']>;

/** Who is signed in; pages read `session.canWrite` to enable or disable their controls. */
class SessionState {
  me = $state<Me | null>(null);
  canWrite = $derived(this.me?.canWrite ?? false);
}

export const session = new SessionState();

export const READ_ONLY_REASON = 'Your key is read-only: you can see everything here but change nothing.';
