/**
 * The UI's route table: every page's address, in one place. App.svelte renders the page named by
 * `matchRoute`, and the e2e page tour (test/e2e/pages.test.ts) visits every entry, so a page added
 * here is screenshot and checked for phone layout and accessibility without anyone listing it twice.
 */
export interface Route {
  name: RouteName;
  /** Hash path segments; `:id` takes one segment. */
  pattern: string;
  /** Needs the operator scope (the requests queue also opens to `limits:approve`). */
  operator?: boolean;
}

export const ROUTES = [
  { name: 'dashboard', pattern: '' },
  { name: 'getting-started', pattern: 'getting-started' },
  { name: 'keys', pattern: 'keys' },
  { name: 'key', pattern: 'keys/:id' },
  { name: 'webhooks', pattern: 'webhooks' },
  { name: 'webhook', pattern: 'webhooks/:id' },
  { name: 'event', pattern: 'events/:id' },
  { name: 'usage', pattern: 'usage' },
  { name: 'playground', pattern: 'playground' },
  { name: 'logs', pattern: 'logs' },
  { name: 'audit', pattern: 'audit' },
  { name: 'settings-oauth', pattern: 'settings/oauth' },
  { name: 'operator-customers', pattern: 'operator', operator: true },
  { name: 'operator-workspace', pattern: 'operator/workspaces/:id', operator: true },
  { name: 'operator-plans', pattern: 'operator/plans', operator: true },
  { name: 'operator-requests', pattern: 'operator/requests', operator: true },
  { name: 'operator-provider', pattern: 'operator/provider', operator: true },
  { name: 'operator-provider-api', pattern: 'operator/provider-api', operator: true },
  { name: 'operator-branding', pattern: 'operator/branding', operator: true },
  { name: 'operator-signing-keys', pattern: 'operator/signing-keys', operator: true },
] as const satisfies readonly { name: string; pattern: string; operator?: boolean }[];

export type RouteName = (typeof ROUTES)[number]['name'];

export interface RouteMatch {
  route: Route;
  id: string | undefined;
}

/** `['keys', 'api-key-prod']` → the `key` route with id `api-key-prod`; undefined when nothing lives there. */
export function matchRoute(parts: readonly string[]): RouteMatch | undefined {
  for (const route of ROUTES as readonly Route[]) {
    const segments = route.pattern.split('/').filter(Boolean);
    if (segments.length !== parts.length) continue;
    let id: string | undefined;
    if (segments.every((s, i) => (s === ':id' ? ((id = parts[i]), true) : s === parts[i]))) return { route, id };
  }
  return undefined;
}

/** The hash address of a route: `routePath('keys/:id', 'k1')` → `/keys/k1`. */
export function routePath(pattern: string, id?: string): string {
  return '/' + pattern.replace(':id', encodeURIComponent(id ?? ''));
}
