import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { key, limitRequest } from '../../../test/fixtures.js';
import KeyDetailView from './KeyDetailView.svelte';
import type { AuditEntry, RotationState } from './types.js';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const grace: RotationState = {
  phase: 'grace',
  keyId: 'key_prod',
  rotation: 2,
  rotatedAt: '2026-11-23T09:00:00.000Z',
  graceEndsAt: '2026-11-23T11:00:00.000Z',
  completedAt: null,
};
const audit: AuditEntry[] = [
  { id: 'aud_1', workspaceId: 'default', actorWorkspaceId: 'default', actorKeyId: 'bootstrap', action: 'key.rotated', targetType: 'api_key', targetId: 'key_prod', ip: '10.0.0.7', changes: { grace_period_seconds: 7200 }, createdAt: '2026-11-23T09:00:00.000Z' },
] as AuditEntry[];

function props(over: Record<string, unknown> = {}) {
  return { key: key({ rotationCount: 2 }), rotation: grace, audit, canWrite: true, onrotate: vi.fn(), onrevoke: vi.fn(), onendgrace: vi.fn(), onextend: vi.fn(), ...over };
}

describe('key detail', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  it('counts the grace period down, live', async () => {
    render(KeyDetailView, props());
    const region = screen.getByRole('region', { name: 'Rotation 2 in its grace period' });
    expect(region.querySelector('time')!.textContent).toBe('1 h 00 min 00 s');
    await vi.advanceTimersByTimeAsync(61_000);
    expect(region.querySelector('time')!.textContent).toBe('58 min 59 s');
  });

  it('ends or extends the grace period', async () => {
    const p = props();
    render(KeyDetailView, p);
    await fireEvent.click(screen.getByRole('button', { name: 'End grace now' }));
    expect(p.onendgrace).toHaveBeenCalledOnce();
    await fireEvent.click(screen.getByRole('button', { name: 'Extend by 24 hours' }));
    expect(p.onextend).toHaveBeenCalledWith(86_400);
  });

  it('says when the last rotation completed, and shows the audit trail', () => {
    render(KeyDetailView, props({ rotation: { ...grace, phase: 'completed', completedAt: '2026-11-23T09:30:00.000Z' } }));
    expect(screen.queryByRole('button', { name: 'End grace now' })).toBeNull();
    expect(screen.getByText(/Last rotation \(2\) completed 30 min ago/)).toBeTruthy();
    const row = screen.getByRole('row', { name: /Secret rotated/ });
    expect(row.textContent).toContain('bootstrap');
    expect(row.textContent).toContain('10.0.0.7');
    // The audit log's snake_case change in words (lib/audit-format.ts).
    expect(row.textContent).toContain('grace period 2 h');
  });

  it('lists the key\'s limit-increase requests', () => {
    render(KeyDetailView, props({
      requests: [limitRequest({ status: 'declined', decidedBy: 'bootstrap', decidedAt: '2026-11-23T09:50:00Z', decisionNote: 'Not this year' })],
    }));
    const row = screen.getByRole('row', { name: /Black Friday/ });
    expect(row.textContent).toContain('100 → 500 per 60 s');
    expect(row.textContent).toContain('declined');
    expect(row.textContent).toContain('Not this year');
  });

  it('read-only: grace controls are disabled with the reason', () => {
    render(KeyDetailView, props({ canWrite: false }));
    for (const name of ['End grace now', 'Extend by 1 hour', 'Rotate', 'Revoke']) {
      const b = screen.getByRole('button', { name }) as HTMLButtonElement;
      expect(b.disabled).toBe(true);
      expect(b.title).toMatch(/read-only/);
    }
  });
});
