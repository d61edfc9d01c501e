import { check, type FormErrors } from '../../lib/form-errors.js';
import { dateInputValue, parseDateInput } from '../../lib/format.js';
import type { Inputs } from '../../lib/trpc.js';
import type { Key } from './types.js';

type Patch = Inputs['keys']['update']['patch'];

/** A key's settings as the edit form holds them: text where a person types, numbers where inputs bind numbers. */
export interface KeyForm {
  name: string;
  enabled: boolean;
  permissions: string;
  rateLimits: { name: string; limit: number | null; windowSeconds: number }[];
  useCredits: boolean;
  credits: number | null;
  refill: 'none' | 'daily' | 'monthly';
  refillAmount: number | null;
  expiresAt: string;
  rotationDays: number | null;
  ipAllowlist: string;
}

/** The form's fields as the server names them, so its errors land beside the right input. */
export const KEY_FORM_FIELDS: readonly string[] = [
  'name',
  'enabled',
  'permissions',
  'rateLimits',
  ...Array.from({ length: 20 }, (_, i) => [`rateLimits.${i}.name`, `rateLimits.${i}.limit`]).flat(),
  'credits',
  'credits.remaining',
  'credits.refill.amount',
  'expiresAt',
  'rotationPolicyDays',
  'ipAllowlist',
];

const words = (s: string) => s.split(/[\s,]+/).filter(Boolean);

export function keyFormOf(key: Key): KeyForm {
  return {
    name: key.name,
    enabled: key.enabled,
    permissions: key.permissions.join(' '),
    rateLimits: key.rateLimits.map((l) => ({ name: l.name, limit: l.limit, windowSeconds: l.windowSeconds })),
    useCredits: key.credits !== null,
    credits: key.credits?.remaining ?? 1000,
    refill: key.credits?.refill?.interval ?? 'none',
    refillAmount: key.credits?.refill?.amount ?? 1000,
    expiresAt: dateInputValue(key.expiresAt),
    rotationDays: key.rotationPolicyDays,
    ipAllowlist: key.ipAllowlist.join('\n'),
  };
}

const named = (f: KeyForm) => f.rateLimits.map((l) => l.name.trim()).filter(Boolean);
const isWhole = (n: number | null, min: number) => n !== null && Number.isInteger(Number(n)) && Number(n) >= min;

/** Every problem the form can see by itself, all at once; the server judges the rest. */
export function checkKeyForm(f: KeyForm, now = Date.now()): FormErrors {
  const expires = f.expiresAt.trim() ? parseDateInput(f.expiresAt) : null;
  return check([
    ['name', f.name.trim().length > 200, 'Too long: at most 200 characters.'],
    ...f.rateLimits.flatMap((l, i): [string, boolean, string][] => [
      [`rateLimits.${i}.limit`, !isWhole(l.limit, 1), 'Give a whole number of requests, at least 1.'],
      [`rateLimits.${i}.name`, l.name.trim().length > 64, 'Too long: at most 64 characters.'],
    ]),
    ['rateLimits', new Set(named(f)).size < named(f).length, 'Two limits share a name: give each its own.'],
    ['credits.remaining', f.useCredits && !isWhole(f.credits, 0), 'Give a whole number of credits, 0 or more.'],
    ['credits.refill.amount', f.useCredits && f.refill !== 'none' && !isWhole(f.refillAmount, 1), 'Give a whole number to refill to, at least 1.'],
    ['expiresAt', expires === undefined, 'Not a date and time. Write it as 2030-01-31 14:00.'],
    ['expiresAt', !!expires && expires.getTime() <= now, 'Must be in the future.'],
    ['rotationPolicyDays', f.rotationDays !== null && String(f.rotationDays) !== '' && !(isWhole(f.rotationDays, 1) && Number(f.rotationDays) <= 3650), 'Give a whole number of days from 1 to 3650, or leave it empty.'],
  ]);
}

function rateLimitsOf(f: KeyForm) {
  return f.rateLimits.map((l) => ({ name: l.name.trim() || undefined, limit: Number(l.limit), windowSeconds: Number(l.windowSeconds) }));
}

function creditsOf(f: KeyForm): Patch['credits'] {
  if (!f.useCredits) return null;
  return { remaining: Number(f.credits), refill: f.refill === 'none' ? null : { amount: Number(f.refillAmount), interval: f.refill } };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Only what the person changed: re-sending an unchanged credit balance would undo what the key
 * spent since the page loaded, and an unchanged limit should not need the right to loosen it.
 */
export function keyPatch(before: KeyForm, after: KeyForm): Patch {
  const patch: Patch = {};
  if (after.name.trim() !== before.name.trim()) patch.name = after.name.trim();
  if (after.enabled !== before.enabled) patch.enabled = after.enabled;
  if (!same(words(after.permissions), words(before.permissions))) patch.permissions = words(after.permissions);
  if (!same(rateLimitsOf(after), rateLimitsOf(before))) patch.rateLimits = rateLimitsOf(after);
  if (!same(creditsOf(after), creditsOf(before))) patch.credits = creditsOf(after);
  if (after.expiresAt.trim() !== before.expiresAt.trim()) {
    const at = parseDateInput(after.expiresAt);
    patch.expiresAt = at ? at.toISOString() : null;
  }
  const days = (d: number | null) => (d === null || String(d) === '' ? null : Number(d));
  if (days(after.rotationDays) !== days(before.rotationDays)) patch.rotationPolicyDays = days(after.rotationDays);
  if (!same(words(after.ipAllowlist), words(before.ipAllowlist))) patch.ipAllowlist = words(after.ipAllowlist);
  return patch;
}
