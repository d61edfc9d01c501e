/**
 * The provider's plane as the console shows it: the shapes of plans.*, workspaces.get/overview/
 * limits, limits.* and usage.provider (the contract of issue #12). Views take these, so they render
 * from fixtures in tests.
 */
export interface RateCeiling {
  limit: number;
  windowSeconds: number;
}

export interface PlanLimits {
  keyRateLimits: RateCeiling[];
  workspaceRateLimits: RateCeiling[];
  monthlyCalls: number | null;
  monthlyCredits: number | null;
  maxKeys: number | null;
  maxWebhookEndpoints: number | null;
  grantableScopes: string[] | null;
  logRetentionDays: number | null;
}

export interface Plan extends PlanLimits {
  id: string;
  name: string;
  default: boolean;
  /** Workspaces on the plan. */
  workspaces: number;
  createdAt: string;
  updatedAt: string;
}

export type PlanInput = PlanLimits & { id: string; name: string; default: boolean };

export interface EffectiveLimits extends PlanLimits {
  planId: string | null;
  planName: string | null;
}

export type QuotaState = 'ok' | 'approaching' | 'exceeded';

export interface QuotaMonth {
  month: string;
  calls: number;
  credits: number;
  quota: number | null;
  creditsGrant: number | null;
  resetAt: string;
  quotaState: QuotaState;
}

export interface WorkspaceDetail {
  id: string;
  name: string;
  keyPrefix: string;
  createdAt: string;
  activeKeys: number;
  planId: string | null;
  planName: string | null;
  overrides: Record<string, unknown>;
  limits: EffectiveLimits;
  month: QuotaMonth;
}

export type SortKey = 'name' | 'created' | 'calls' | 'errorRate' | 'lastActivity' | 'keys';

export interface CustomerRow {
  id: string;
  name: string;
  planId: string | null;
  planName: string | null;
  callsThisMonth: number;
  quota: number | null;
  errorRate: number | null;
  health: number | null;
  activeKeys: number;
  lastActivityAt: string | null;
}

export interface ProviderUsage {
  daily: { date: string; calls: number; errors: number }[];
  topByCalls: { workspaceId: string; name: string; calls: number; errors: number }[];
  topByErrors: { workspaceId: string; name: string; calls: number; errors: number }[];
}

export type LimitRequestKind = 'key_limit' | 'workspace_quota' | 'plan';
export type LimitRequestStatus = 'pending' | 'approved' | 'declined' | 'expired';

export interface LimitRequest {
  id: string;
  workspaceId: string;
  kind: LimitRequestKind;
  keyId: string | null;
  limitName: string | null;
  currentLimit: number | null;
  requestedLimit: number | null;
  windowSeconds: number | null;
  requestedPlan: string | null;
  reason: string;
  status: LimitRequestStatus;
  requestedBy: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  approvedLimit: number | null;
  approvedPlan: string | null;
  expiresAt: string | null;
  createdAt: string;
}

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
