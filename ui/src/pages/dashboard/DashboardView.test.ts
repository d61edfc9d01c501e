import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import DashboardView, { type DashboardData } from './DashboardView.svelte';

const busy: DashboardData = {
  keys: [
    { id: 'key_prod', name: 'Production', start: 'key_prod_***', permissions: ['write'], callsToday: 12_400, rate: '100/min' },
    { id: 'key_analytics', name: 'Analytics', start: 'key_analytics_***', permissions: ['read-only'], callsToday: 3200, rate: '50/min' },
  ],
  endpoints: [{ id: 'ep_1', url: 'https://api.mystore.com/hook', events: 'product.generated', status: 'active', health: 'healthy', lastTriggeredAt: new Date(Date.now() - 120_000).toISOString() }],
  activeKeys: 3,
  webhooks: 2,
  callsThisMonth: 245_000,
  avgResponseMs: 120,
  errorRate: 0.003,
  healthScore: 97,
  healthParts: { errors: 97, latency: 100, webhooks: 92 },
  callsPerDay: [
    { day: '2026-11-01', calls: 8000, errors: 20 },
    { day: '2026-11-02', calls: 9100, errors: 31 },
  ],
  warnings: [{ keyId: 'key_prod', limit: 'per-minute', used: 85, max: 100 }],
};

describe('dashboard', () => {
  it('shows the figures the product page promises', () => {
    render(DashboardView, { data: busy });
    const summary = screen.getByRole('region', { name: 'Summary' });
    expect(within(summary).getByText('Keys active').nextElementSibling?.textContent).toBe('3');
    expect(within(summary).getByText('Webhooks').nextElementSibling?.textContent).toBe('2');
    expect(within(summary).getByText('245K')).toBeTruthy();
    expect(within(summary).getByText('120 ms')).toBeTruthy();
    expect(within(summary).getByText('0.3%')).toBeTruthy();
    expect(within(summary).getByText('97/100')).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'How it works' })).toBeNull();
  });

  it('says what the health score is made of', () => {
    render(DashboardView, { data: busy });
    expect(screen.getByText(/^API health 97\/100 =/).textContent?.replace(/\s+/g, ' ')).toMatch(
      /50 % errors 97 .*\+ 30 % latency 100 .*\+ 20 % webhooks 92 /,
    );
    expect(screen.getByRole('button', { name: 'How API health is worked out' })).toBeTruthy();
  });

  it('lists keys and webhooks the way the product page does', () => {
    render(DashboardView, { data: busy });
    const keys = screen.getByRole('region', { name: 'API keys' });
    expect(keys.textContent).toMatch(/key_prod_\*\*\* — Production \(write\)\s*Usage: 12.4K calls today \| Rate: 100\/min/);
    const hooks = screen.getByRole('region', { name: 'Webhooks' });
    expect(hooks.textContent).toMatch(/product.generated → https:\/\/api.mystore.com\/hook\s*Status: active \| Last triggered: 2 min ago\s*✓\(deliveries succeeding\)/);
  });

  it('warns about keys near their rate limit', () => {
    render(DashboardView, { data: busy });
    const item = screen.getByText(/is near its/);
    expect(item.textContent).toContain('key_prod');
    expect(item.textContent).toContain('85 of 100 (85%)');
  });

  it('says a limit was exceeded with how many calls it refused, and keeps saying it after the window rolled over', () => {
    const ended = new Date(Date.now() - 20 * 60_000).toISOString();
    render(DashboardView, {
      data: {
        ...busy,
        warnings: [
          // The live window shows 9 of 10 again; the last window that warned refused 25.
          { keyId: 'key_prod', keyName: 'Production', limit: 'per-minute', used: 10, max: 10, state: 'exceeded', refused: 25, at: ended },
          { keyId: 'key_analytics', keyName: 'Analytics', limit: 'per-hour', used: 41, max: 50, state: 'approaching', refused: 0, at: ended },
        ],
      },
    });
    const warnings = screen.getByRole('region', { name: 'Rate-limit warnings' });
    const [exceeded, near] = within(warnings).getAllByRole('listitem');
    expect(exceeded!.classList.contains('error')).toBe(true);
    expect(exceeded!.textContent).toMatch(/Production\s*— per-minute limit of 10: exceeded — 25 refused/);
    expect(exceeded!.textContent).toMatch(/window ended \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    expect(near!.classList.contains('warning')).toBe(true);
    expect(near!.textContent).toMatch(/Analytics\s*is near its per-hour limit: 41 of 50 \(82%\)/);
  });

  it('shows failing webhook endpoints in red, with since when', () => {
    render(DashboardView, {
      data: {
        ...busy,
        endpoints: [
          { id: 'ep_down', url: 'https://down.example/hook', events: 'all events', status: 'active', health: 'failing', failingSince: '2026-11-30T08:15:00', lastTriggeredAt: new Date().toISOString() },
          { id: 'ep_ok', url: 'https://ok.example/hook', events: 'all events', status: 'active', health: 'healthy', failingSince: null, lastTriggeredAt: new Date().toISOString() },
        ],
      },
    });
    const hooks = within(screen.getByRole('region', { name: 'Webhooks' })).getAllByRole('listitem');
    expect(hooks[0]!.className).toContain('failing');
    expect(hooks[0]!.textContent).toContain('Failing since 2026-11-30 08:15');
    expect(hooks[0]!.querySelector('.bad')).not.toBeNull();
    expect(hooks[1]!.className).not.toContain('failing');
    expect(hooks[1]!.textContent).not.toMatch(/Failing/);
  });

  it('charts calls per day, with the numbers available as a table', () => {
    render(DashboardView, { data: busy });
    expect(screen.getByRole('img', { name: /Calls per day/ })).toBeTruthy();
    const row = screen.getByRole('rowheader', { name: '11-02' }).closest('tr')!;
    expect(row.textContent).toContain('9069');
    expect(row.textContent).toContain('31');
  });

  it('when empty, offers the three onboarding steps as actions', () => {
    render(DashboardView, { data: { ...busy, keys: [], endpoints: [], activeKeys: 1, webhooks: 0, callsThisMonth: 0, callsPerDay: [], warnings: [], avgResponseMs: null, errorRate: null, healthScore: null } });
    expect(screen.getByRole('heading', { name: 'How it works' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Create a key' }).getAttribute('href')).toBe('#/keys?new=1');
    expect(screen.getByRole('link', { name: 'Add an endpoint' }).getAttribute('href')).toBe('#/webhooks?new=1');
    expect(screen.getByRole('link', { name: 'Open usage' }).getAttribute('href')).toBe('#/usage');
    expect(screen.getByText(/No calls yet this month/)).toBeTruthy();
    expect(screen.getAllByText('—').length).toBe(3);
  });
});
