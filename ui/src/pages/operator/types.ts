/**
 * The provider's plane as the console shows it: the shapes of plans.*, workspaces.get/overview/
 * limits, limits.* and usage.provider (the contract of issue #12). Views take these, so they render
 * from fixtures in tests.
 */
import type { Outputs } from '../../lib/trpc.js';

// Derived from the router, so a field renamed on the server fails svelte-check here.
export type Plan = Outputs['plans']['list']['plans'][number];
export type RateCeiling = Plan['keyRateLimits'][number];
export type WorkspaceDetail = Outputs['workspaces']['get'];
export type EffectiveLimits = WorkspaceDetail['limits'];
export type PlanLimits = Omit<EffectiveLimits, 'planId' | 'planName'>;
export type PlanInput = PlanLimits & { id: string; name: string; default: boolean };
export type QuotaMonth = WorkspaceDetail['month'];
export type QuotaState = QuotaMonth['quotaState'];
export type CustomerRow = Outputs['workspaces']['overview']['rows'][number];
export type SortKey = 'name' | 'created' | 'calls' | 'errorRate' | 'lastActivity' | 'keys';
export type ProviderUsage = Outputs['usage']['provider'];
export type LimitRequest = Outputs['limits']['queue']['limitRequests'][number];
export type LimitRequestKind = LimitRequest['kind'];
export type LimitRequestStatus = LimitRequest['status'];
export type SigningKeys = Outputs['oauth']['signingKeys'];
export type SigningKey = SigningKeys['keys'][number];

/** "1,000 / 60 s": a rate limit or ceiling in one phrase. */
export function describeCeiling(l: RateCeiling): string {
  const w = l.windowSeconds;
  const window = w % 86_400 === 0 ? `${w / 86_400} d` : w % 3600 === 0 ? `${w / 3600} h` : w % 60 === 0 ? `${w / 60} min` : `${w} s`;
  return `${l.limit.toLocaleString('en')} / ${window}`;
}

/** What a request asks for, in words: "key_prod per-minute: 100 → 500 / 1 min". */
export function describeRequest(r: LimitRequest): string {
  if (r.kind === 'plan') return `plan change → ${r.requestedPlan ?? '?'}`;
  const to = r.requestedLimit === null ? '?' : r.requestedLimit.toLocaleString('en');
  const from = r.currentLimit === null ? 'none' : r.currentLimit.toLocaleString('en');
  if (r.kind === 'workspace_quota') return `monthly quota: ${from} → ${to} calls`;
  const per = r.windowSeconds ? ` / ${describeCeiling({ limit: 0, windowSeconds: r.windowSeconds }).split(' / ')[1]}` : '';
  return `${r.keyId ?? '?'} ${r.limitName ?? ''}: ${from} → ${to}${per}`;
}

export const KIND_LABEL: Record<LimitRequestKind, string> = {
  key_limit: 'Key rate limit',
  workspace_quota: 'Monthly quota',
  plan: 'Plan change',
};

export const STATUS_TONE: Record<LimitRequestStatus, string> = { pending: 'warn', approved: 'good', declined: 'bad', expired: '' };
