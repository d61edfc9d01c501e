import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import PlanForm from './PlanForm.svelte';
import PlansView from './PlansView.svelte';
import { plan } from './fixtures.js';

describe('plans editor', () => {
  it('lists each plan with its limits, the default marked', async () => {
    const onedit = vi.fn();
    const ondelete = vi.fn();
    render(PlansView, { plans: [plan(), plan({ id: 'free', name: 'Free', default: true, monthlyCalls: 10_000, keyRateLimits: [], workspaceRateLimits: [], maxKeys: null, logRetentionDays: null })], onedit, ondelete });
    const pro = screen.getByRole('row', { name: /Pro/ });
    expect(pro.textContent).toContain('1M');
    expect(pro.textContent).toContain('5,000 / 1 min');
    expect(pro.textContent).toContain('1,000 / 1 min');
    expect(pro.textContent).toContain('90 days');
    const free = screen.getByRole('row', { name: /Free/ });
    expect(free.textContent).toContain('default');
    expect(free.textContent).toContain('unlimited');
    await fireEvent.click(screen.getByRole('button', { name: 'Delete plan free' }));
    expect(ondelete).toHaveBeenCalledWith(expect.objectContaining({ id: 'free' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Edit plan pro' }));
    expect(onedit).toHaveBeenCalledWith(expect.objectContaining({ id: 'pro' }));
  });

  it('the form sends blanks as unlimited and rate-limit rows as limits', async () => {
    const onsubmit = vi.fn();
    render(PlanForm, { plan: null, onsubmit, oncancel: vi.fn() });
    await fireEvent.input(screen.getByLabelText('Plan id'), { target: { value: 'team' } });
    await fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Team' } });
    await fireEvent.input(screen.getByLabelText('Monthly calls'), { target: { value: '250000' } });
    await fireEvent.input(screen.getByLabelText('Grantable scopes'), { target: { value: 'read-only, products:read' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add workspace rate limits' }));
    await fireEvent.input(screen.getByLabelText('Limit'), { target: { value: '300' } });
    await fireEvent.click(screen.getByLabelText('Default plan for new workspaces'));
    await fireEvent.submit(screen.getByRole('button', { name: 'Create plan' }).closest('form')!);
    expect(onsubmit).toHaveBeenCalledWith({
      id: 'team',
      name: 'Team',
      monthlyCalls: 250_000,
      monthlyCredits: null,
      maxKeys: null,
      maxWebhookEndpoints: null,
      logRetentionDays: null,
      grantableScopes: ['read-only', 'products:read'],
      keyRateLimits: [],
      workspaceRateLimits: [{ limit: 300, windowSeconds: 60 }],
      default: true,
    });
  });

  it('editing keeps the id fixed and shows the server\'s refusal', () => {
    render(PlanForm, { plan: plan(), error: "plan 'pro' is in use by 3 workspaces: acme, trebol, zeta", onsubmit: vi.fn(), oncancel: vi.fn() });
    expect((screen.getByLabelText('Plan id') as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByLabelText('Monthly calls') as HTMLInputElement).value).toBe('1000000');
    expect(screen.getByRole('alert').textContent).toContain('acme, trebol, zeta');
  });
});
