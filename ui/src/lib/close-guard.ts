import { getContext, setContext } from 'svelte';

/**
 * Lets something inside a dialog hold its closing: the show-once secret registers `pending` while
 * its "I have stored this secret" box is unticked, so the dialog's × and Escape ask first, as Done
 * does, instead of throwing the secret away.
 */
export interface CloseGuard {
  /** What to say before closing, or null when closing loses nothing. */
  pending: () => string | null;
}

const KEY = Symbol('dialog-close-guard');

export interface CloseGuards {
  add(guard: CloseGuard): () => void;
  /** The first reason not to close yet, or null. */
  reason(): string | null;
}

export function provideCloseGuards(): CloseGuards {
  const guards = new Set<CloseGuard>();
  const registry: CloseGuards = {
    add(guard) {
      guards.add(guard);
      return () => guards.delete(guard);
    },
    reason() {
      for (const g of guards) {
        const why = g.pending();
        if (why) return why;
      }
      return null;
    },
  };
  setContext(KEY, registry);
  return registry;
}

/** The enclosing dialog's guards, or undefined outside a dialog. */
export function closeGuards(): CloseGuards | undefined {
  return getContext<CloseGuards | undefined>(KEY);
}
