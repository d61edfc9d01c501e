import { hasScope, OPERATOR, OPERATOR_SCOPES, PERMISSION_PATTERN, PERMISSION_RULE, PRESETS, SCOPES, type Preset } from '../packages/express/src/scopes.js';

export * from '../packages/express/src/scopes.js';

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
