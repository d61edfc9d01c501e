import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import AuditView from './AuditView.svelte';

const base = { workspaceId: 'acme', actorWorkspaceId: 'acme', actorKeyId: 'admin', ip: '10.0.0.7', targetType: 'api_key', createdAt: '2026-11-30T09:00:00.000Z' };

describe('audit log page', () => {
  it('reads as changes in words, names the target and who acted', () => {
    render(AuditView, {
      entries: [
        { ...base, id: 'aud_1', action: 'key.updated', targetId: 'mobile-app', changes: { rate_limits: { from: [{ name: 'default', limit: 100, windowSeconds: 60 }], to: [{ name: 'default', limit: 200, windowSeconds: 60 }] } } },
        { ...base, id: 'aud_2', action: 'workspace.plan_changed', targetType: 'workspace', targetId: 'acme', actorWorkspaceId: 'provider', actorKeyId: 'ops', changes: { plan: { from: 'free', to: 'pro' } } },
        { ...base, id: 'aud_3', action: 'key.permissions_migrated', targetId: 'admin', actorWorkspaceId: null, actorKeyId: null, ip: '', changes: { removed: ['limits:approve'], permissions: { from: ['admin', 'limits:approve'], to: ['admin', 'limits:write'] } } },
      ],
    });
    const [first, second, third] = screen.getAllByTestId('audit-row');
    expect(first!.textContent).toContain('Key changed');
    expect(first!.textContent).toContain('rate limit per minute 100 → 200');
    expect(within(first!).getByRole('link', { name: 'key mobile-app' }).getAttribute('href')).toBe('#/keys/mobile-app');
    expect(second!.textContent).toContain('plan free → pro');
    expect(second!.textContent).toContain('your provider');
    expect(second!.textContent).toContain('this workspace');
    expect(third!.textContent).toContain('Permissions migrated');
    expect(third!.textContent).toContain('Gatehouse');
    expect(third!.textContent).toContain('removed limits:approve');
    // No raw JSON or snake_case anywhere.
    expect(screen.getByRole('table').textContent).not.toMatch(/[{}"]|rate_limits|_migrated/);
  });

  it('says when nothing was recorded yet', () => {
    render(AuditView, { entries: [] });
    expect(screen.getByText(/Nothing recorded yet/)).toBeTruthy();
  });
});
