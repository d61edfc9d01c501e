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

  /**
   * Keeps a page's filters and period in the address (`#/logs?status=4xx&kind=all`), so a reload or
   * a shared link shows the same view. Empty values are left out; the history entry is replaced,
   * not added, so Back leaves the page instead of undoing each filter.
   */
  setQuery(values: Record<string, string | number | boolean | null | undefined>): void {
    const path = withQuery(this.path.split('?')[0]!, values);
    if (path === this.path) return;
    if (typeof history !== 'undefined' && typeof location !== 'undefined') history.replaceState(history.state, '', `#${path}`);
    this.path = path;
  }
}

/** `withQuery('/logs', { status: '4xx', key: '' })` → `/logs?status=4xx`. */
export function withQuery(path: string, values: Record<string, string | number | boolean | null | undefined>): string {
  const set = Object.entries(values).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false);
  const text = set.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return text ? `${path}?${text}` : path;
}

export const router = new HashRouter();

/** `href('keys', id)` → `#/keys/<id>`, each part encoded. */
export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}
