// Gatehouse's scope vocabulary and how a key's scopes grant a permission: shared by the server and
// `@gatehouse/express` (which checks access tokens' scopes itself), so it lives in the package.
/** Gatehouse's own scopes. Customers add their own `resource:action` scopes for their API. */
export const SCOPES = [
  'keys:read',
  'keys:write',
  'keys:verify',
  'webhooks:read',
  'webhooks:write',
  'events:read',
  'events:publish',
  'usage:read',
  'usage:write',
  'audit:read',
  'limits:write',
  'limits:approve',
  'operator',
] as const;
export type Scope = (typeof SCOPES)[number];

const READ_ONLY: Scope[] = ['keys:read', 'webhooks:read', 'events:read', 'usage:read', 'audit:read'];
const WRITE: Scope[] = [...READ_ONLY, 'keys:write', 'keys:verify', 'webhooks:write', 'events:publish', 'usage:write'];
/**
 * `limits:write` marks the workspace's administrator (loosening a key's limits, granting its own
 * customer scopes). It replaced `limits:approve` in this preset when deciding limit requests became
 * the provider's: a workspace never approves its own increases.
 */
const ADMIN: Scope[] = [...WRITE, 'limits:write'];

/**
 * Scopes of the provider's plane: only a key holding `operator` grants them. `limits:approve`
 * decides every workspace's limit requests (a support role short of a full operator).
 */
export const OPERATOR_SCOPES: ReadonlySet<string> = new Set(['operator', 'limits:approve']);

export const PRESETS = { 'read-only': READ_ONLY, write: WRITE, admin: ADMIN } as const;
export type Preset = keyof typeof PRESETS;

/** A permission is a preset name, a Gatehouse scope, or a customer scope such as `products:write`. */
export const PERMISSION_PATTERN = /^(read-only|write|admin|[a-z][a-z0-9_-]{0,62}:[a-z0-9_*-]{1,63})$/;
export const PERMISSION_RULE = 'a preset (read-only, write, admin) or a scope "resource:action" in lowercase';

/** Presets expanded to scopes, deduplicated and sorted, so checks are plain set look-ups. */
export function expandPermissions(permissions: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of permissions) {
    const preset = PRESETS[p as Preset];
    if (preset) preset.forEach((s) => out.add(s));
    else out.add(p);
  }
  return [...out].sort();
}

/**
 * `operator` reaches every workspace, so it is held only by that exact name: no wildcard, preset or
 * spelling (`operator:*`, `OPERATOR`, `*`) ever stands for it, and only an operator grants it.
 */
export const OPERATOR = 'operator';

/**
 * `products:*` grants every action on `products`. A wildcard covers `resource:action` scopes only:
 * a bare scope such as `operator` has no resource to wildcard, so only the scope itself grants it.
 */
export function hasScope(granted: ReadonlySet<string> | readonly string[], scope: string): boolean {
  const set = granted instanceof Set ? granted : new Set(granted);
  if (set.has(scope)) return true;
  // The operator holds every scope of the provider's plane: deciding limit requests is part of its role.
  if (OPERATOR_SCOPES.has(scope) && set.has(OPERATOR)) return true;
  const colon = scope.indexOf(':');
  if (colon <= 0) return false;
  const resource = scope.slice(0, colon);
  if (resource.toLowerCase() === OPERATOR) return false;
  return set.has(`${resource}:*`);
}
