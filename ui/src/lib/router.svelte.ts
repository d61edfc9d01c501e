/**
 * A hash router: `#/keys/api-key-prod` → `{ path: '/keys/api-key-prod', parts: ['keys', 'api-key-prod'] }`.
 * The server never sees the fragment, so every page deep-links without server routes.
 */
function current(): string {
  const raw = typeof location === 'undefined' ? '' : location.hash.replace(/^#/, '');
  return raw.startsWith('/') ? raw : '/';
}

class HashRouter {
  path = $state(current());
  parts = $derived(this.path.split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent));
  query = $derived(new URLSearchParams(this.path.split('?')[1] ?? ''));

  constructor() {
    if (typeof window !== 'undefined') window.addEventListener('hashchange', () => (this.path = current()));
  }

  go(path: string): void {
    if (typeof location !== 'undefined') location.hash = path;
    this.path = path;
  }
}

export const router = new HashRouter();

/** `href('keys', id)` → `#/keys/<id>`, each part encoded. */
export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}
