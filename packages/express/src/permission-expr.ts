import { hasScope, PERMISSION_PATTERN, PRESETS, type Preset } from './scopes.js';

/**
 * A permission query as a verifier sends it: `products:write`, `a AND b`, `a OR (b AND c)`.
 * AND binds tighter than OR; the words are case-insensitive. A preset name (`write`) stands for
 * every scope of that preset.
 */
export type PermissionExpr =
  | { op: 'scope'; scope: string }
  | { op: 'and' | 'or'; left: PermissionExpr; right: PermissionExpr };

export class PermissionSyntaxError extends Error {
  override name = 'PermissionSyntaxError';
}

const MAX_LENGTH = 1000;
const MAX_TERMS = 64;
const TOKEN_RE = /\s*(\(|\)|[^\s()]+)/y;

/** Parses an expression, or throws PermissionSyntaxError with a message safe to show the caller. */
export function parsePermissionExpr(input: string): PermissionExpr {
  if (input.length > MAX_LENGTH) throw new PermissionSyntaxError(`longer than ${MAX_LENGTH} characters`);
  const tokens: string[] = [];
  TOKEN_RE.lastIndex = 0;
  const trimmed = input.trimEnd();
  while (TOKEN_RE.lastIndex < trimmed.length) {
    const m = TOKEN_RE.exec(trimmed);
    if (!m) break;
    tokens.push(m[1]!);
  }
  if (tokens.length === 0) throw new PermissionSyntaxError('empty expression');
  let pos = 0;
  let terms = 0;

  const peekWord = () => tokens[pos]?.toUpperCase();
  const parseOr = (): PermissionExpr => {
    let left = parseAnd();
    while (peekWord() === 'OR') {
      pos++;
      left = { op: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): PermissionExpr => {
    let left = parseTerm();
    while (peekWord() === 'AND') {
      pos++;
      left = { op: 'and', left, right: parseTerm() };
    }
    return left;
  };
  const parseTerm = (): PermissionExpr => {
    const tok = tokens[pos];
    if (tok === undefined) throw new PermissionSyntaxError('ends where a permission or "(" was expected');
    if (tok === '(') {
      pos++;
      const inner = parseOr();
      if (tokens[pos] !== ')') throw new PermissionSyntaxError('missing ")"');
      pos++;
      return inner;
    }
    const upper = tok.toUpperCase();
    if (tok === ')' || upper === 'AND' || upper === 'OR') {
      throw new PermissionSyntaxError(`unexpected "${tok}" where a permission was expected`);
    }
    if (!PERMISSION_PATTERN.test(tok)) {
      throw new PermissionSyntaxError(`"${tok.slice(0, 64)}" is not a permission: expected a preset or "resource:action"`);
    }
    if (++terms > MAX_TERMS) throw new PermissionSyntaxError(`more than ${MAX_TERMS} permissions`);
    pos++;
    return { op: 'scope', scope: tok };
  };

  const expr = parseOr();
  if (pos < tokens.length) throw new PermissionSyntaxError(`unexpected "${tokens[pos]!.slice(0, 64)}" after a complete expression`);
  return expr;
}

/** Whether a key holding these (expanded) scopes satisfies the expression. */
export function satisfies(expr: PermissionExpr, granted: ReadonlySet<string>): boolean {
  switch (expr.op) {
    case 'scope': {
      const preset = PRESETS[expr.scope as Preset];
      return preset ? preset.every((s) => hasScope(granted, s)) : hasScope(granted, expr.scope);
    }
    case 'and':
      return satisfies(expr.left, granted) && satisfies(expr.right, granted);
    case 'or':
      return satisfies(expr.left, granted) || satisfies(expr.right, granted);
  }
}

const parsed = new Map<string, PermissionExpr>();
const PARSED_CACHE_MAX = 1000;

/** Verifiers send the same few queries over and over: parse each once (bounded). */
export function parsePermissionExprCached(input: string): PermissionExpr {
  const hit = parsed.get(input);
  if (hit) return hit;
  const expr = parsePermissionExpr(input);
  if (parsed.size >= PARSED_CACHE_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(input, expr);
  return expr;
}
