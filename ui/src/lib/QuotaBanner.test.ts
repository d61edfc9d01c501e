import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import QuotaBanner from './QuotaBanner.svelte';
import type { QuotaMonth } from '../pages/operator/types.js';

const month = (calls: number, quotaState: QuotaMonth['quotaState'], quota: number | null = 100_000): QuotaMonth => ({
  month: '2026-12', calls, credits: 0, quota, creditsGrant: null, resetAt: '2027-01-01T00:00:00.000Z', quotaState,
});

describe('quota banner', () => {
  it('says nothing below 80 % or without a quota', () => {
    render(QuotaBanner, { month: month(79_000, 'ok'), canRequest: true });
    render(QuotaBanner, { month: month(5_000_000, 'ok', null), canRequest: true });
    render(QuotaBanner, { month: null, canRequest: true });
    expect(screen.queryByRole('status', { name: 'Monthly quota' })).toBeNull();
  });

  it('warns from 80 % with the figures, the reset date and a way to ask for more', () => {
    render(QuotaBanner, { month: month(85_000, 'approaching'), canRequest: true });
    const banner = screen.getByRole('status', { name: 'Monthly quota' });
    expect(banner.textContent).toMatch(/Approaching your monthly quota:\s*85K of 100K calls used \(85%\) in 2026-12/);
    expect(banner.textContent).toContain('resets on 1 January 2027');
    expect(banner.className).toContain('warning');
    expect(screen.getByRole('link', { name: 'Request more' }).getAttribute('href')).toBe('#/usage?request=workspace_quota');
  });

  it('at 100 % says calls are refused; without the permission, no request link', () => {
    render(QuotaBanner, { month: month(100_000, 'exceeded'), canRequest: false });
    const banner = screen.getByRole('status', { name: 'Monthly quota' });
    expect(banner.textContent).toContain('Monthly quota reached');
    expect(banner.textContent).toContain('Further calls are refused');
    expect(banner.className).toContain('error');
    expect(screen.queryByRole('link', { name: 'Request more' })).toBeNull();
  });
});
