import { TRPCClientError } from '@trpc/client';
import { errorMessage } from './trpc.js';

/**
 * A form's errors, each next to its field, in plain words, all at once.
 *
 * `fields` is keyed by the form's own field names, which are the input's paths as the server
 * names them (`name`, `rateLimits.0.limit`, `ipAllowlist`); `general` holds what belongs to no
 * field shown. Client-side checks and the server's 400 both end up here, so a form marks its
 * inputs (`aria-invalid`, the message beside them) the same way whichever caught the mistake.
 */
export interface FormErrors {
  fields: Record<string, string>;
  general: string[];
}

export const noErrors = (): FormErrors => ({ fields: {}, general: [] });

export const hasErrors = (e: FormErrors): boolean => e.general.length > 0 || Object.keys(e.fields).length > 0;

/**
 * Client-side checks, collected rather than stopped at the first: `[field, isBad, message]`.
 * The first message for a field wins (the most basic problem: empty before malformed).
 */
export function check(rules: [field: string, bad: boolean, message: string][]): FormErrors {
  const out = noErrors();
  for (const [field, bad, message] of rules) if (bad && !(field in out.fields)) out.fields[field] = message;
  return out;
}

/**
 * The field a server path belongs to: itself when the form shows it, else its nearest parent the
 * form shows (`permissions.1` → `permissions`, `credits.refill.amount` → `credits.refill.amount`
 * or `credits`), else undefined.
 */
export function fieldOf(path: string, known: readonly string[]): string | undefined {
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('.');
    if (known.includes(candidate)) return candidate;
  }
  return undefined;
}

/** The server's wording, rewritten where it speaks the schema's language rather than the user's. */
const REWRITES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^'(.*)' is not a preset \(([^)]*)\) or a scope .*$/s, (m) => `“${m[1]}” is not a permission. Use a preset (${m[2]}) or a scope such as products:write, in lowercase.`],
  [/^at least (\d+) seconds?$/, (m) => `Must be at least ${m[1]} second${m[1] === '1' ? '' : 's'}.`],
  [/^at least (\S+)$/, (m) => `Must be at least ${m[1]}.`],
  [/^at most (\S+)$/, (m) => `Must be at most ${m[1]}.`],
  [/^at most (\d+) characters$/, (m) => `Too long: at most ${m[1]} characters.`],
  [/^at most (\d+) (items|entries|rate limits|addresses)$/, (m) => `Too many: at most ${m[1]} ${m[2]}.`],
  [/^expected an ISO 8601 date-time.*$/s, () => 'Not a date and time. Write it as 2030-01-31 14:00.'],
  [/^expected an IPv4\/IPv6 address or CIDR block.*$/s, () => 'Not an IP address or block. Write it as 203.0.113.7 or 203.0.113.0/24.'],
  [/^expected an integer$/, () => 'Must be a whole number.'],
  [/^expected a number$/, () => 'Must be a number.'],
  [/^Invalid input: expected (\w+), received (\w+)$/, (m) => (m[2] === 'undefined' ? 'Required.' : `Must be a ${m[1]}.`)],
  [/^Invalid URL$/i, () => 'Not a web address. Write it as https://example.com/webhooks.'],
  [/^Unrecognized keys?: (.*)$/, (m) => `Not a field this form knows: ${m[1]}.`],
];

/** One message in plain words: the schema's jargon rewritten, a leading `path: ` dropped, a capital and a full stop. */
export function plainMessage(message: string, path?: string): string {
  let text = message.trim();
  // HttpErrors often name their field first (`permissions.1: …`); beside the field that is noise.
  if (path && text.startsWith(`${path}: `)) text = text.slice(path.length + 2);
  else text = text.replace(/^[a-z]\w*(\.\w+|\[\d+\])*: /, '');
  for (const [pattern, rewrite] of REWRITES) {
    const m = text.match(pattern);
    if (m) return rewrite(m);
  }
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

/** `rateLimits.0.limit` → "Rate limits, entry 1, limit": a readable name for a path no field shows. */
export function describePath(path: string, labels: Record<string, string> = {}): string {
  if (labels[path]) return labels[path];
  return path
    .split('.')
    .map((p) => (/^\d+$/.test(p) ? `entry ${Number(p) + 1}` : (labels[p] ?? p.replace(/([A-Z])/g, ' $1').toLowerCase())))
    .join(', ')
    .replace(/^./, (c) => c.toUpperCase());
}

/**
 * A failed call's errors, placed on the form's fields: every issue the server gave (zod reports
 * them all at once), or its one `field` with the message. What names no known field goes to
 * `general`, prefixed with a readable name for the path it named.
 */
export function fromServer(err: unknown, known: readonly string[], opts: { labels?: Record<string, string>; prefix?: string } = {}): FormErrors {
  const out = noErrors();
  const data = err instanceof TRPCClientError ? (err.data as { issues?: { path: string; message: string }[]; field?: string } | undefined) : undefined;
  const issues = data?.issues?.length ? data.issues : data?.field ? [{ path: data.field, message: err instanceof Error ? err.message : '' }] : [];
  for (const raw of issues) {
    const issue = { path: serverPath(raw.path, opts.prefix), message: raw.message };
    const field = fieldOf(issue.path, known);
    const message = plainMessage(raw.message, raw.path);
    if (field !== undefined) {
      // Two issues on one field (two bad addresses in the allowlist): both, so both get fixed.
      // A message naming its value (“NotAScope” is not…) needs no entry number.
      const item = field !== issue.path && !message.startsWith('“') ? `${describePath(issue.path.slice(field.length + 1))}: ${message}` : message;
      out.fields[field] = out.fields[field] ? `${out.fields[field]} ${item}` : item;
    } else {
      out.general.push(issue.path ? `${describePath(issue.path, opts.labels)}: ${message}` : message);
    }
  }
  if (issues.length === 0) out.general.push(errorMessage(err));
  return out;
}

/**
 * A server path as the form names it: the procedure's wrapper dropped (`patch.name` → `name`),
 * brackets as dots (`rateLimits[0]`) and snake_case as camelCase (`expires_at`): core errors
 * name fields the way REST spells them, zod the way tRPC does.
 */
export function serverPath(path: string, prefix?: string): string {
  let p = path.replace(/\[(\d+)\]/g, '.$1');
  if (prefix && (p === prefix || p.startsWith(`${prefix}.`))) p = p.slice(prefix.length + 1);
  return p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * After a failed submit, the first bad input gets the focus (in the page's order), or the form's
 * alert when no input is marked: a keyboard or screen-reader user lands on what needs fixing.
 * Call it after the DOM shows the errors (`await tick()`).
 */
export function focusFirstError(form: HTMLElement | undefined | null): void {
  const target = form?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? form?.querySelector<HTMLElement>('[role="alert"]');
  if (!target) return;
  if (target.getAttribute('role') === 'alert' && !target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
  target.focus();
}
