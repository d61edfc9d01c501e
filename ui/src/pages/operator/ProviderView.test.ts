import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ProviderView from './ProviderView.svelte';
import { providerUsage } from './fixtures.js';

describe('provider charts', () => {
  it('charts calls per day across customers and lists the top customers by calls and by errors', () => {
    render(ProviderView, { data: providerUsage, days: 30 });
    expect(screen.getByRole('img', { name: /Calls per day across all customers/ })).toBeTruthy();
    expect(screen.getByText('27.5K')).toBeTruthy();
    const byErrors = screen.getByRole('region', { name: 'Top 10 by errors' });
    expect(byErrors.querySelector('tbody tr')?.textContent).toMatch(/Trebol.*150.*2\.0%/);
    const byCalls = screen.getByRole('region', { name: 'Top 10 by calls' });
    expect(byCalls.querySelector('tbody tr a')?.getAttribute('href')).toBe('#/operator/workspaces/acme');
  });
});
