import { session } from './session.svelte.js';
import { errorMessage, isUnauthorized } from './trpc.js';

/**
 * One page's data, fetched in one place: the page renders `data`, `error` or a loading state and
 * calls `reload()` after a change. `refresh()` reloads without flashing the loading state (polling).
 */
export class Resource<T> {
  data = $state<T | undefined>(undefined);
  error = $state<string | undefined>(undefined);
  loading = $state(true);
  #fn: () => Promise<T>;
  #seq = 0;

  constructor(fn: () => Promise<T>, initial?: T) {
    this.#fn = fn;
    if (initial !== undefined) {
      this.data = initial;
      this.loading = false;
    } else {
      void this.reload();
    }
  }

  async reload(): Promise<void> {
    this.loading = this.data === undefined;
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const seq = ++this.#seq;
    try {
      const data = await this.#fn();
      if (seq !== this.#seq) return;
      this.data = data;
      this.error = undefined;
    } catch (err) {
      if (seq !== this.#seq) return;
      // The session ended (expired, signed out elsewhere, key revoked): back to the sign-in page.
      if (isUnauthorized(err)) session.me = null;
      this.error = errorMessage(err);
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}

/** A resource already holding data: what component tests render pages with. */
export function fixed<T>(data: T): Resource<T> {
  return new Resource(() => Promise.resolve(data), data);
}
