import { describe, expect, it } from 'vitest';
import { auditAction, auditChanges, auditSummary, perWindow } from './audit-format.js';

describe('audit entries in words', () => {
  it('a rate limit raised reads "rate limit per minute 100 → 200"', () => {
    const changes = {
      rate_limits: {
        from: [{ name: 'default', limit: 100, windowSeconds: 60 }],
        to: [{ name: 'default', limit: 200, windowSeconds: 60 }, { name: 'hourly', limit: 5000, windowSeconds: 3600 }],
      },
    };
    expect(auditChanges({ action: 'key.updated', changes })).toEqual(['rate limit per minute 100 → 200', 'rate limit per hour (“hourly”) added: 5,000']);
  });

  it('a removed limit and all limits removed', () => {
    const one = { rate_limits: { from: [{ name: 'a', limit: 1, windowSeconds: 1 }, { name: 'default', limit: 9, windowSeconds: 60 }], to: [{ name: 'a', limit: 1, windowSeconds: 1 }] } };
    expect(auditChanges({ action: 'key.updated', changes: one })).toEqual(['rate limit per minute removed (was 9)']);
    const all = { rate_limits: { from: [{ name: 'default', limit: 9, windowSeconds: 60 }], to: [] } };
    expect(auditChanges({ action: 'key.updated', changes: all })).toEqual(['rate limits removed: unlimited now']);
  });

  it('permissions as what was added and removed; names, booleans and dates in words', () => {
    const changes = {
      permissions: { from: ['read', 'webhooks:write'], to: ['read', 'keys:write'] },
      name: { from: 'Prod', to: 'Production' },
      enabled: { from: true, to: false },
      expires_at: { from: null, to: '2027-01-02T03:04:00.000Z' },
      ip_allowlist: { from: ['10.0.0.1'], to: [] },
    };
    const lines = auditChanges({ action: 'key.updated', changes });
    expect(lines[0]).toBe('permissions: added keys:write; removed webhooks:write');
    expect(lines[1]).toBe('name Prod → Production');
    expect(lines[2]).toBe('disabled');
    expect(lines[3]).toMatch(/^expiry set to 2027-01-0\d \d\d:\d\d$/);
    expect(lines[4]).toBe('IP allowlist: removed 10.0.0.1');
    expect(lines.join(' ')).not.toMatch(/[{}"]|_/);
  });

  it('key.permissions_migrated: what was removed, why, and the permissions before and after', () => {
    const changes = {
      removed: ['limits:approve'],
      reason: 'limits:approve became an operator scope: the provider decides limit requests',
      permissions: { from: ['admin', 'limits:approve'], to: ['admin', 'limits:write'] },
    };
    expect(auditAction('key.permissions_migrated')).toBe('Permissions migrated');
    expect(auditChanges({ action: 'key.permissions_migrated', changes })).toEqual([
      'removed limits:approve',
      'why: limits:approve became an operator scope: the provider decides limit requests',
      'permissions: added limits:write; removed limits:approve',
    ]);
  });

  it('workspace.plan_changed, from no plan and back', () => {
    expect(auditChanges({ action: 'workspace.plan_changed', changes: { plan: { from: null, to: 'pro' } } })).toEqual(['plan none (unlimited) → pro']);
    expect(auditChanges({ action: 'workspace.plan_changed', changes: { plan: { from: 'pro', to: 'free' } } })).toEqual(['plan pro → free']);
    expect(auditAction('workspace.plan_changed')).toBe('Plan changed');
  });

  it('workspace.overrides_changed: each override that changed on its own line, limits with their window', () => {
    const changes = {
      overrides: {
        from: { monthly_calls: 1000, key_rate_limits: [{ limit: 10, window_seconds: 60 }] },
        to: { monthly_calls: 5000, max_keys: 20, key_rate_limits: [{ limit: 50, window_seconds: 60 }] },
      },
    };
    expect(auditChanges({ action: 'workspace.overrides_changed', changes })).toEqual([
      'override: monthly calls 1,000 → 5,000',
      'override: key rate limit per minute 10 → 50',
      'override: max keys set to 20',
    ]);
  });

  it('rotation facts and an unknown action stay readable', () => {
    const changes = { rotation_count: { from: 0, to: 1 }, grace_period_seconds: 86_400 };
    expect(auditChanges({ action: 'key.rotated', changes })).toEqual(['rotation 0 → 1', 'grace period 1 d']);
    expect(auditAction('something.new_thing')).toBe('Something new thing');
    expect(auditSummary({ action: 'key.revoked', changes: {} })).toBe('—');
    expect(auditChanges({ action: 'key.created', changes: { name: 'Prod', credits_remaining: null, ip_allowlist: [], expires_at: null } })).toEqual(['name: Prod']);
    expect(auditChanges({ action: 'key.rotated', changes: { previous_key_expires_at: { from: null, to: '2026-12-02T04:21:00.000Z' } } })[0]).toMatch(/^previous secret works until 2026-12-0\d \d\d:\d\d$/);
    expect(auditChanges({ action: 'key.rotated', changes: { start: { from: null, to: 'gate_sk_live_Ab12***' } } })).toEqual(['new secret gate_sk_live_Ab12***']);
    expect(auditChanges({ action: 'limit_request.created', changes: { kind: 'workspace_quota', requested_limit: 200_000 } })).toEqual(['kind: workspace quota', 'requested limit: 200,000']);
    expect(perWindow(60)).toBe('per minute');
    expect(perWindow(300)).toBe('per 5 minutes');
    expect(perWindow(7)).toBe('per 7 seconds');
  });
});
