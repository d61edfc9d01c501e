import type { Key } from '../src/pages/keys/types.js';
import type { Delivery, SystemInfo } from '../src/pages/webhooks/types.js';
import type { LimitRequest } from '../src/pages/operator/types.js';

export function key(over: Partial<Key> = {}): Key {
  return {
    id: 'key_prod',
    name: 'Production',
    environment: 'live',
    status: 'active',
    permissions: ['write'],
    scopes: ['keys:read', 'keys:write'],
    start: 'gate_sk_live_Ab3x***',
    enabled: true,
    rateLimits: [{ name: 'per-minute', limit: 100, windowSeconds: 60 }],
    credits: null,
    expiresAt: null,
    ipAllowlist: [],
    rotationPolicyDays: null,
    metadata: {},
    rotationCount: 0,
    createdAt: '2026-11-01T10:00:00.000Z',
    updatedAt: '2026-11-01T10:00:00.000Z',
    lastUsedAt: null,
    lastRotatedAt: null,
    revokedAt: null,
    ...over,
  } as Key;
}

export const info: SystemInfo = { temporalUiUrl: 'http://127.0.0.1:8233', temporalNamespace: 'default' };

export function delivery(over: Partial<Delivery> = {}): Delivery {
  return {
    id: 'dlv_1',
    eventId: 'msg_1',
    eventType: 'product.generated',
    endpointId: 'ep_1',
    status: 'succeeded',
    workflowId: 'delivery:msg_1:ep_1',
    attemptCount: 2,
    nextAttemptAt: null,
    lastAttemptAt: '2026-11-23T10:00:05.000Z',
    createdAt: '2026-11-23T10:00:00.000Z',
    attempts: [
      { attempt: 1, attemptedAt: '2026-11-23T10:00:00.000Z', trigger: 'scheduled', statusCode: 503, durationMs: 120, response: 'busy', error: null },
      { attempt: 2, attemptedAt: '2026-11-23T10:00:05.000Z', trigger: 'scheduled', statusCode: 200, durationMs: 42, response: '{"ok":true}', error: null },
    ],
    ...over,
  } as unknown as Delivery;
}

export function limitRequest(over: Partial<LimitRequest> = {}): LimitRequest {
  return {
    id: 'lr_1',
    workspaceId: 'acme',
    kind: 'key_limit',
    keyId: 'key_prod',
    limitName: 'per-minute',
    currentLimit: 100,
    requestedLimit: 500,
    windowSeconds: 60,
    requestedPlan: null,
    reason: 'Black Friday',
    status: 'pending',
    requestedBy: 'key_prod',
    decidedBy: null,
    decidedAt: null,
    decisionNote: null,
    approvedLimit: null,
    approvedPlan: null,
    expiresAt: '2026-12-07T09:00:00.000Z',
    createdAt: '2026-11-23T09:00:00.000Z',
    ...over,
  };
}
