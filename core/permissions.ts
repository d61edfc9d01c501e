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

/** `operator` in any spelling, with or without an action: `operator`, `Operator:*`, `operator:read`. */
export function namesOperator(permission: string): boolean {
  return permission.trim().split(':')[0]!.normalize('NFKC').toLowerCase() === OPERATOR;
}

/** Resources whose scopes are Gatehouse's own: customer scopes may not use these names. */
export const GATEHOUSE_RESOURCES: ReadonlySet<string> = new Set(SCOPES.filter((s) => s.includes(':')).map((s) => s.split(':')[0]!));

/**
 * Why `permission` is not a valid permission, or undefined when it is. `operator` is accepted here,
 * by that exact name only (it is never part of a preset); whether the caller may grant it is
 * `ungrantable`'s question.
 */
export function invalidPermission(permission: string): string | undefined {
  if (permission === OPERATOR) return undefined;
  if (namesOperator(permission)) {
    return `'${permission.slice(0, 70)}' is reserved: 'operator' is granted only by that exact name, by an operator, and has no actions or wildcards`;
  }
  if (permission === '*' || permission.startsWith('*:')) {
    return `'${permission.slice(0, 70)}' is not allowed: a wildcard covers one resource's actions only, such as 'products:*'`;
  }
  if (!PERMISSION_PATTERN.test(permission)) return `'${permission.slice(0, 70)}' is not ${PERMISSION_RULE}`;
  const [resource, action] = permission.split(':') as [string, string | undefined];
  if (action !== undefined && GATEHOUSE_RESOURCES.has(resource) && action !== '*' && !(SCOPES as readonly string[]).includes(permission)) {
    return `'${permission}' is not a Gatehouse scope; '${resource}' is reserved for Gatehouse (${SCOPES.filter((s) => s.startsWith(`${resource}:`)).join(', ')})`;
  }
  return undefined;
}

/** Holds every scope of the admin preset: the workspace's administrator. */
export function isWorkspaceAdmin(scopes: ReadonlySet<string>): boolean {
  return PRESETS.admin.every((s) => hasScope(scopes, s));
}

/**
 * The first of `requested` that a key holding `scopes` may not hand out, or undefined. A key never
 * grants what it does not hold (no escalation through a key it creates or edits); `operator`
 * reaches across workspaces, so only an operator grants it. Customer scopes such as
 * `products:write` are the customer's own vocabulary: besides a key holding them, the workspace's
 * admin may grant them, or nothing could ever issue the first one.
 */
export function ungrantable(scopes: ReadonlySet<string>, requested: readonly string[]): string | undefined {
  const admin = isWorkspaceAdmin(scopes);
  for (const permission of requested) {
    // Other spellings are refused as input; one stored before that rule confers nothing, and only
    // an operator may manage (revoke, narrow) the key that carries it.
    if (namesOperator(permission)) {
      if (!scopes.has(OPERATOR)) return permission;
      continue;
    }
    const preset = PRESETS[permission as Preset];
    if (preset) {
      if (!preset.every((s) => hasScope(scopes, s))) return permission;
      continue;
    }
    if (OPERATOR_SCOPES.has(permission) && !scopes.has(OPERATOR)) return permission;
    const [resource, action] = permission.split(':') as [string, string];
    if (GATEHOUSE_RESOURCES.has(resource)) {
      // `limits:*` would cover `limits:approve`, an operator scope.
      if (action === '*' && resource === 'limits' && !scopes.has(OPERATOR)) return permission;
      // `keys:*` would also cover any keys scope Gatehouse adds later: only a holder of `keys:*` itself grants it.
      const ok = action === '*' ? scopes.has(permission) : hasScope(scopes, permission);
      if (!ok) return permission;
      continue;
    }
    const held = action === '*' ? scopes.has(permission) : hasScope(scopes, permission);
    if (!held && !admin) return permission;
  }
  return undefined;
}
