import type { Outputs } from '../../lib/trpc.js';

export type Key = Outputs['keys']['list']['keys'][number];
export type CreatedKey = Outputs['keys']['create'];
export type RotationState = Outputs['keys']['rotationState'];
export type AuditEntry = Outputs['keys']['auditTrail']['entries'][number];
export type { LimitRequest } from '../operator/types.js';

/** The keys list's filters, as the address keeps them (`#/keys?q=prod&status=revoked`). */
export interface KeyFilters {
  search: string;
  environment: '' | 'live' | 'test';
  /** `current`: every key but the revoked ones, which are listed apart. */
  status: 'current' | 'active' | 'disabled' | 'expired' | 'revoked';
  permission: string;
}

export const NO_KEY_FILTERS: KeyFilters = { search: '', environment: '', status: 'current', permission: '' };

export const KEY_STATUS_FILTERS: { value: KeyFilters['status']; label: string }[] = [
  { value: 'current', label: 'any but revoked' },
  { value: 'active', label: 'active' },
  { value: 'disabled', label: 'disabled' },
  { value: 'expired', label: 'expired' },
  { value: 'revoked', label: 'revoked' },
];

/** The filters an address holds; anything unknown falls back to the default. */
export function keyFiltersOf(query: URLSearchParams): KeyFilters {
  const env = query.get('env');
  const status = query.get('status');
  return {
    search: query.get('q') ?? '',
    environment: env === 'live' || env === 'test' ? env : '',
    status: KEY_STATUS_FILTERS.some((s) => s.value === status) ? (status as KeyFilters['status']) : 'current',
    permission: query.get('permission') ?? '',
  };
}

/** The address's query for these filters: the defaults are left out. */
export function keyFiltersQuery(f: KeyFilters): Record<string, string> {
  return { q: f.search, env: f.environment, status: f.status === 'current' ? '' : f.status, permission: f.permission };
}

/** Grace periods the rotate dialog offers, in seconds. */
export const GRACE_CHOICES = [
  { seconds: 0, label: 'End now: the old secret stops at once' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '24 hours' },
  { seconds: 604_800, label: '7 days' },
] as const;

export function statusTone(status: Key['status']): 'good' | 'warn' | 'bad' | '' {
  return status === 'active' ? 'good' : status === 'disabled' ? 'warn' : status === 'revoked' || status === 'expired' ? 'bad' : '';
}

export function describeLimit(l: { limit: number; windowSeconds: number }): string {
  const w = l.windowSeconds;
  const unit = w % 86_400 === 0 ? `${w / 86_400 === 1 ? '' : w / 86_400 + ' '}day` : w % 3600 === 0 ? `${w / 3600 === 1 ? '' : w / 3600 + ' '}h` : w % 60 === 0 ? `${w / 60 === 1 ? '' : w / 60 + ' '}min` : `${w} s`;
  return `${l.limit.toLocaleString('en')}/${unit}`;
}
