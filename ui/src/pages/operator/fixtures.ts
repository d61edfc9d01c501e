import type { CustomerRow, Plan, ProviderUsage, WorkspaceDetail } from './types.js';

export function plan(over: Partial<Plan> = {}): Plan {
  return {
    id: 'pro',
    name: 'Pro',
    keyRateLimits: [{ limit: 1000, windowSeconds: 60 }],
    workspaceRateLimits: [{ limit: 5000, windowSeconds: 60 }],
    monthlyCalls: 1_000_000,
    monthlyCredits: null,
    maxKeys: 50,
    maxWebhookEndpoints: 10,
    grantableScopes: null,
    logRetentionDays: 90,
    default: false,
    workspaces: 3,
    createdAt: '2026-11-01T10:00:00.000Z',
    updatedAt: '2026-11-01T10:00:00.000Z',
    ...over,
  };
}

export function customer(over: Partial<CustomerRow> = {}): CustomerRow {
  return {
    id: 'acme',
    name: 'Acme Corp',
    planId: 'pro',
    planName: 'Pro',
    callsThisMonth: 850_000,
    quota: 1_000_000,
    errorRate: 0.012,
    health: 92,
    activeKeys: 4,
    lastActivityAt: new Date(Date.now() - 120_000).toISOString(),
    ...over,
  };
}

export function workspaceDetail(over: Partial<WorkspaceDetail> = {}): WorkspaceDetail {
  const p = plan();
  return {
    id: 'acme',
    name: 'Acme Corp',
    keyPrefix: 'acme',
    createdAt: '2026-11-01T10:00:00.000Z',
    activeKeys: 4,
    planId: p.id,
    planName: p.name,
    overrides: { monthlyCalls: 2_000_000 },
    limits: { ...p, planId: p.id, planName: p.name, monthlyCalls: 2_000_000 },
    month: { month: '2026-12', calls: 1_700_000, credits: 0, quota: 2_000_000, creditsGrant: null, resetAt: '2027-01-01T00:00:00.000Z', quotaState: 'approaching' },
    ...over,
  };
}

export const providerUsage: ProviderUsage = {
  from: '2026-11-29T00:00:00.000Z',
  to: '2026-12-01T00:00:00.000Z',
  daily: [
    { date: '2026-11-29', calls: 12_000, errors: 120 },
    { date: '2026-11-30', calls: 15_500, errors: 80 },
  ],
  topByCalls: [
    { workspaceId: 'acme', name: 'Acme Corp', calls: 20_000, errors: 50 },
    { workspaceId: 'trebol', name: 'Trebol', calls: 7500, errors: 150 },
  ],
  topByErrors: [
    { workspaceId: 'trebol', name: 'Trebol', calls: 7500, errors: 150 },
    { workspaceId: 'acme', name: 'Acme Corp', calls: 20_000, errors: 50 },
  ],
};
