import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import WorkspaceView from './WorkspaceView.svelte';
import { plan, workspaceDetail } from './fixtures.js';

const usage = { points: [{ t: '2026-12-01T00:00:00.000Z', calls: 900, errors: 12 }], avgLatencyMs: 40, errorRate: 0.013, healthScore: 95 };

describe('workspace page', () => {
  it('shows the month against the quota, usage, and effective limits with overrides marked', () => {
    render(WorkspaceView, { detail: workspaceDetail(), plans: [plan()], usage, onsave: vi.fn(), onviewas: vi.fn() });
    expect(screen.getByRole('meter', { name: /against the quota/ }).getAttribute('aria-valuenow')).toBe('1700000');
    expect(screen.getByRole('img', { name: /Calls per day this month for Acme Corp/ })).toBeTruthy();
    const calls = screen.getByRole('row', { name: /Monthly calls/ });
    expect(calls.textContent).toContain('2M');
    expect(calls.textContent).toContain('override');
    expect(screen.getByRole('row', { name: /Max keys/ }).textContent).not.toContain('override');
  });

  it('saves plan and overrides, shows the notes, refuses JSON that is not an object', async () => {
    const onsave = vi.fn().mockResolvedValue(undefined);
    const view = render(WorkspaceView, { detail: workspaceDetail(), plans: [plan(), plan({ id: 'free', name: 'Free' })], usage: null, onsave, onviewas: vi.fn() });
    await fireEvent.change(screen.getByLabelText('Plan'), { target: { value: 'free' } });
    const overrides = screen.getByLabelText('Overrides (JSON)');
    await fireEvent.input(overrides, { target: { value: '[1]' } });
    await fireEvent.submit(overrides.closest('form')!);
    expect(screen.getByRole('alert').textContent).toContain('overrides');
    expect(onsave).not.toHaveBeenCalled();
    await fireEvent.input(overrides, { target: { value: '{"maxKeys": 3}' } });
    await fireEvent.submit(overrides.closest('form')!);
    expect(onsave).toHaveBeenCalledWith({ plan: 'free', overrides: { maxKeys: 3 } });
    await view.rerender({ notes: ['monthlyCalls is below this month\'s 1,700,000 calls: further calls are refused'] });
    expect(screen.getByRole('list', { name: 'Notes' }).textContent).toContain('below this month');
  });

  it('offers a read-only view as the customer', async () => {
    const onviewas = vi.fn();
    render(WorkspaceView, { detail: workspaceDetail(), plans: [], usage: null, onsave: vi.fn(), onviewas });
    await fireEvent.click(screen.getByRole('button', { name: 'View as customer' }));
    expect(onviewas).toHaveBeenCalled();
  });
});
