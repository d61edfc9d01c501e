import type { Outputs } from '../../lib/trpc.js';

export type Key = Outputs['keys']['list']['keys'][number];
export type CreatedKey = Outputs['keys']['create'];
export type RotationState = Outputs['keys']['rotationState'];
export type AuditEntry = Outputs['keys']['auditTrail']['entries'][number];
export type { LimitRequest } from '../operator/types.js';

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
