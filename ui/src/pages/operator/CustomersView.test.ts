import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import CustomersView from './CustomersView.svelte';
import { customer } from './fixtures.js';

const rows = [customer(), customer({ id: 'trebol', name: 'Trebol', planId: null, planName: null, quota: null, callsThisMonth: 1200, health: 61, errorRate: 0.08, lastActivityAt: null })];
const base = { rows, total: 2345, sort: 'calls' as const, order: 'desc' as const, offset: 0, pageSize: 50 };

describe('customers table', () => {
  it('shows plan, calls against the quota as a bar, error rate, health, keys and last activity', () => {
    render(CustomersView, { ...base, onsort: vi.fn(), onpage: vi.fn() });
    const acme = screen.getByRole('row', { name: /Acme Corp/ });
    expect(acme.textContent).toContain('Pro');
    expect(acme.textContent).toContain('850K / 1M');
    expect(acme.textContent).toContain('1.2%');
    expect(acme.textContent).toContain('92/100');
    expect(acme.textContent).toContain('2 min ago');
    const bar = within(acme).getByRole('meter', { name: 'acme calls against quota' });
    expect(bar.getAttribute('aria-valuenow')).toBe('850000');
    expect(bar.className).toContain('warn');
    const trebol = screen.getByRole('row', { name: /Trebol/ });
    expect(trebol.textContent).toContain('no plan');
    expect(trebol.textContent).toContain('(no quota)');
    expect(trebol.textContent).toContain('never');
    expect(within(trebol).queryByRole('meter')).toBeNull();
    expect(screen.getByRole('link', { name: 'Acme Corp' }).getAttribute('href')).toBe('#/operator/workspaces/acme');
  });

  it('sorts by a clicked header and marks the sorted column', async () => {
    const onsort = vi.fn();
    render(CustomersView, { ...base, onsort, onpage: vi.fn() });
    expect(screen.getByRole('columnheader', { name: /Calls this month/ }).getAttribute('aria-sort')).toBe('descending');
    await fireEvent.click(screen.getByRole('button', { name: 'Error rate' }));
    expect(onsort).toHaveBeenCalledWith('errorRate');
    // Plan and health are not sortable on the server: plain headers.
    expect(screen.queryByRole('button', { name: 'Plan' })).toBeNull();
  });

  it('pages through thousands of customers by offset', async () => {
    const onpage = vi.fn();
    render(CustomersView, { ...base, offset: 50, onsort: vi.fn(), onpage });
    expect(screen.getByText('51–52 of 2,345')).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(onpage).toHaveBeenCalledWith(100);
    await fireEvent.click(screen.getByRole('button', { name: 'Previous' }));
    expect(onpage).toHaveBeenCalledWith(0);
  });

  it('says so when nothing matches', () => {
    render(CustomersView, { ...base, rows: [], total: 0, onsort: vi.fn(), onpage: vi.fn() });
    expect(screen.getByText('No customers match.')).toBeTruthy();
  });
});
