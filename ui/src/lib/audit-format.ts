import { dateTime } from './format.js';

/**
 * The audit trail in words. The log stores each change as `field: {from, to}` with snake_case field
 * names (the REST API's), some plain facts (`grace_period_seconds: 3600`) and nested objects (a
 * workspace's overrides); this turns them into lines such as "rate limit per minute 100 → 200",
 * so a customer reads what changed instead of JSON.
 */
export interface AuditLike {
  action: string;
  changes: Record<string, unknown>;
}

const ACTIONS: Record<string, string> = {
  'key.created': 'Key created',
  'key.updated': 'Key changed',
  'key.revoked': 'Key revoked',
  'key.deleted': 'Key deleted',
  'key.rotated': 'Secret rotated',
  'key.rotation.grace_ended': 'Grace period ended early',
  'key.rotation.grace_extended': 'Grace period extended',
  'key.permissions_migrated': 'Permissions migrated',
  'limit_request.created': 'Limit increase requested',
  'plan.created': 'Plan created',
  'plan.updated': 'Plan changed',
  'plan.deleted': 'Plan deleted',
  'workspace.created': 'Workspace created',
  'workspace.plan_changed': 'Plan changed',
  'workspace.overrides_changed': 'Limit overrides changed',
};

/** Field names as a person says them; any other is its snake_case name with spaces. */
const FIELDS: Record<string, string> = {
  ip_allowlist: 'IP allowlist',
  expires_at: 'expiry',
  rotation_policy_days: 'rotation policy (days)',
  credits_remaining: 'credits remaining',
  credits_refill_amount: 'credits refill amount',
  credits_refill_interval: 'credits refill interval',
  previous_key_expires_at: 'previous secret works until',
  grace_ends_at: 'grace period ends',
  grace_period_seconds: 'grace period',
  rotation_count: 'rotation',
  start: 'secret',
  plan: 'plan',
  plan_id: 'plan',
  monthly_calls: 'monthly calls',
  monthly_credits: 'monthly credits',
  max_keys: 'max keys',
  max_webhook_endpoints: 'max webhook endpoints',
  grantable_scopes: 'grantable scopes',
  log_retention_days: 'log retention (days)',
  key_rate_limits: 'key rate limit',
  workspace_rate_limits: 'workspace rate limit',
  rate_limits: 'rate limit',
  requested_limit: 'requested limit',
  window_seconds: 'window',
};

const ARROW = ' → ';

/** `key.rotation.grace_extended` → "Grace period extended"; an unknown action in plain words. */
export function auditAction(action: string): string {
  if (ACTIONS[action]) return ACTIONS[action];
  const words = action.replace(/[._]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function fieldName(field: string): string {
  return FIELDS[field] ?? field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_+/g, ' ').toLowerCase();
}

/** The readable lines of one entry's changes, in the order stored. */
export function auditChanges(entry: AuditLike): string[] {
  const lines: string[] = [];
  for (const [field, value] of Object.entries(entry.changes ?? {})) lines.push(...describe(field, value));
  return lines;
}

/** One line for a list cell: the action's changes joined, or "—". */
export function auditSummary(entry: AuditLike): string {
  const lines = auditChanges(entry);
  return lines.length ? lines.join('; ') : '—';
}

function isChange(v: unknown): v is { from: unknown; to: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'from' in v && 'to' in v && Object.keys(v).length === 2;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Limit {
  name?: string;
  limit: number;
  windowSeconds: number;
}

function asLimits(v: unknown): Limit[] | null {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return null;
  const out: Limit[] = [];
  for (const item of v) {
    if (!isRecord(item) || typeof item.limit !== 'number') return null;
    const window = item.windowSeconds ?? item.window_seconds ?? item.duration;
    if (typeof window !== 'number') return null;
    out.push({ name: typeof item.name === 'string' ? item.name : undefined, limit: item.limit, windowSeconds: window });
  }
  return out;
}

/** 60 → "per minute", 90 → "per 90 s". */
export function perWindow(seconds: number): string {
  const units: [number, string][] = [[86_400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  for (const [size, unit] of units) {
    if (seconds === size) return `per ${unit}`;
    if (seconds % size === 0 && seconds > size) return `per ${seconds / size} ${unit}s`;
  }
  return `per ${seconds} s`;
}

/** Names that only repeat the window ("default", "per-minute") are left out of the label. */
function limitLabel(field: string, l: Limit): string {
  const base = `${fieldName(field)} ${perWindow(l.windowSeconds)}`;
  const plain = !l.name || /^(default|per[-_ ]?\w+|minute|hour|second|day|\d+\w*)$/i.test(l.name);
  return plain ? base : `${base} (“${l.name}”)`;
}

/** Limits matched by name, else by window: "rate limit per minute 100 → 200", "… added: 1,000", "… removed (was 5)". */
function describeLimits(field: string, from: Limit[], to: Limit[]): string[] {
  if (from.length && !to.length) return [`${fieldName(field)}s removed: unlimited now`];
  const key = (l: Limit) => l.name ?? `w${l.windowSeconds}`;
  const before = new Map(from.map((l) => [key(l), l]));
  const after = new Map(to.map((l) => [key(l), l]));
  const lines: string[] = [];
  for (const [k, l] of after) {
    const old = before.get(k);
    if (!old) lines.push(`${limitLabel(field, l)} added: ${num(l.limit)}`);
    else if (old.limit !== l.limit || old.windowSeconds !== l.windowSeconds) {
      lines.push(
        old.windowSeconds === l.windowSeconds
          ? `${limitLabel(field, l)} ${num(old.limit)}${ARROW}${num(l.limit)}`
          : `${limitLabel(field, old)} ${num(old.limit)}${ARROW}${num(l.limit)} ${perWindow(l.windowSeconds)}`,
      );
    }
  }
  for (const [k, l] of before) if (!after.has(k)) lines.push(`${limitLabel(field, l)} removed (was ${num(l.limit)})`);
  return lines;
}

function describe(field: string, value: unknown): string[] {
  if (isChange(value)) return describeChange(field, value.from, value.to);
  // Facts recorded beside the changes.
  if (field === 'removed' && Array.isArray(value)) return [`removed ${list(value)}`];
  if (field === 'reason' && typeof value === 'string') return [`why: ${value}`];
  if (field === 'source' && typeof value === 'string') return [`by ${value}`];
  if (field === 'grace_period_seconds' || field === 'seconds') return [`${field === 'seconds' ? 'by' : fieldName(field)} ${seconds(value)}`];
  if (field === 'rotation' && typeof value === 'number') return [`rotation ${value}`];
  // A new key's empty settings (no credits, no allowlist) say nothing worth a line.
  if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) return [];
  const limits = /rate_limits$/.test(field) ? asLimits(value) : null;
  if (limits) return limits.map((l) => `${limitLabel(field, l)}: ${num(l.limit)}`);
  if (isRecord(value)) return Object.entries(value).flatMap(([k, v]) => describe(k, v));
  return [`${fieldName(field)}: ${show(field, value)}`];
}

function describeChange(field: string, from: unknown, to: unknown): string[] {
  if (/rate_limits$/.test(field)) {
    const a = asLimits(from);
    const b = asLimits(to);
    if (a && b) return describeLimits(field, a, b);
  }
  if (field === 'enabled' && typeof to === 'boolean') return [to ? 'enabled again' : 'disabled'];
  if ((field === 'plan' || field === 'plan_id') && (typeof from === 'string' || from === null) && (typeof to === 'string' || to === null)) {
    return [`plan ${from ?? 'none (unlimited)'}${ARROW}${to ?? 'none (unlimited)'}`];
  }
  // A set of names (permissions, scopes, addresses): what was added and removed, not two long lists.
  if (Array.isArray(from) && Array.isArray(to) && [...from, ...to].every((v) => typeof v === 'string')) {
    const added = (to as string[]).filter((v) => !(from as string[]).includes(v));
    const removed = (from as string[]).filter((v) => !(to as string[]).includes(v));
    const parts = [...(added.length ? [`added ${added.join(', ')}`] : []), ...(removed.length ? [`removed ${removed.join(', ')}`] : [])];
    return [`${fieldName(field)}: ${parts.length ? parts.join('; ') : 'reordered'}`];
  }
  // Overrides and other objects: each inner field that changed, on its own line.
  if ((isRecord(from) || from === null) && (isRecord(to) || to === null) && (from || to)) {
    const a = from ?? {};
    const b = to ?? {};
    const inner = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    const prefix = field === 'overrides' ? 'override: ' : `${fieldName(field)}: `;
    const lines = inner.flatMap((k) => describeChange(k, a[k] ?? null, b[k] ?? null).map((l) => prefix + l));
    return lines.length ? lines : [`${fieldName(field)} unchanged`];
  }
  // A time that starts ("previous secret works until 2026-12-02 04:21") reads without "set to".
  if ((from === null || from === undefined) && / until$/.test(fieldName(field))) return [`${fieldName(field)} ${show(field, to)}`];
  if ((from === null || from === undefined) && fieldName(field) === 'secret') return [`new secret ${show(field, to)}`];
  if (from === null || from === undefined) return [`${fieldName(field)} set to ${show(field, to)}`];
  if (to === null || to === undefined) return [`${fieldName(field)} removed (was ${show(field, from)})`];
  return [`${fieldName(field)} ${show(field, from)}${ARROW}${show(field, to)}`];
}

function show(field: string, v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return /seconds$/.test(field) ? seconds(v) : num(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return dateTime(v);
  // A kind or status the API spells in snake_case ("workspace_quota") reads as words.
  if (typeof v === 'string') return field === 'kind' || field === 'status' ? v.replace(/_/g, ' ') : v;
  if (Array.isArray(v)) {
    const limits = asLimits(v);
    if (limits && limits.length) return limits.map((l) => `${num(l.limit)} ${perWindow(l.windowSeconds)}`).join(', ');
    return v.length ? list(v) : 'none';
  }
  if (isRecord(v)) return Object.entries(v).map(([k, x]) => `${fieldName(k)} ${show(k, x)}`).join(', ') || 'none';
  return String(v);
}

function list(v: unknown[]): string {
  return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ');
}

function num(n: number): string {
  return n.toLocaleString('en');
}

function seconds(v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (v % 86_400 === 0 && v > 0) return `${v / 86_400} d`;
  if (v % 3600 === 0 && v > 0) return `${v / 3600} h`;
  if (v % 60 === 0 && v > 0) return `${v / 60} min`;
  return `${v} s`;
}
