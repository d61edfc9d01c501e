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
  'limits:approve',
  'operator',
] as const;
export type Scope = (typeof SCOPES)[number];

const READ_ONLY: Scope[] = ['keys:read', 'webhooks:read', 'events:read', 'usage:read', 'audit:read'];
const WRITE: Scope[] = [...READ_ONLY, 'keys:write', 'keys:verify', 'webhooks:write', 'events:publish', 'usage:write'];
const ADMIN: Scope[] = [...WRITE, 'limits:approve'];

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

/** `products:*` grants every action on `products`. */
export function hasScope(granted: ReadonlySet<string> | readonly string[], scope: string): boolean {
  const set = granted instanceof Set ? granted : new Set(granted);
  if (set.has(scope)) return true;
  const resource = scope.split(':')[0];
  return set.has(`${resource}:*`);
}
