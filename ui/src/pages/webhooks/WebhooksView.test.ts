import { render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import WebhooksView from './WebhooksView.svelte';
import type { Endpoint } from './types.js';

function endpoint(over: Partial<Endpoint>): Endpoint {
  return {
    id: 'ep_1',
    url: 'https://example.com/hook',
    description: '',
    eventTypes: null,
    allWorkspaces: false,
    status: 'active',
    httpsOnly: false,
    disabledReason: null,
    disabledAt: null,
    lastTriggeredAt: new Date(Date.now() - 60_000).toISOString(),
    secretRotatedAt: null,
    previousSecretExpiresAt: null,
    createdAt: '2026-11-01T00:00:00Z',
    updatedAt: '2026-11-01T00:00:00Z',
    attempts24h: 4,
    successRate24h: 1,
    failingSince: null,
    health: 'healthy',
    ...over,
  } as Endpoint;
}

// Wrapped in `props`: `events` alone would be read as a mount option.
const props = (endpoints: Endpoint[]) => ({ props: { endpoints, eventTypes: [], events: [], canWrite: true, oncreate: vi.fn(), onaddtype: vi.fn(), onpublish: vi.fn() } });

describe('webhook endpoints list', () => {
  it('tells the truth about each endpoint: failing in red with since when, flaky by its attempts, idle as no traffic', () => {
    render(
      WebhooksView,
      props([
        endpoint({ id: 'ep_down', url: 'https://down.example/hook', health: 'failing', successRate24h: 0, attempts24h: 12, failingSince: '2026-11-30T08:15:00' }),
        endpoint({ id: 'ep_flaky', url: 'https://flaky.example/hook', successRate24h: 0.6, attempts24h: 5 }),
        endpoint({ id: 'ep_idle', url: 'https://idle.example/hook', health: 'no_traffic', successRate24h: null, attempts24h: 0, lastTriggeredAt: null }),
      ]),
    );
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows[0]!.textContent).toContain('down.example');
    expect(rows[0]!.className).toContain('failing');
    const down = within(rows[0]!);
    expect(down.getByText('failing').className).toContain('bad');
    expect(rows[0]!.textContent).toContain('failing since 2026-11-30 08:15');
    expect(rows[0]!.textContent).toContain('0%');
    expect(rows[0]!.textContent).toContain('12 attempts');
    // The endpoint is "active" (it receives events) but not healthy: both are said.
    expect(down.getByText('active')).toBeTruthy();

    expect(rows[1]!.textContent).toContain('60%');
    expect(within(rows[1]!).getByText('healthy').className).toContain('good');
    expect(rows[1]!.className).not.toContain('failing');

    expect(within(rows[2]!).getByText('no traffic')).toBeTruthy();
    expect(rows[2]!.textContent).toContain('—');
    expect(rows[2]!.textContent).toContain('0 attempts');
    expect(screen.getByText(/attempts answered 2xx ÷ all attempts over the last 24 hours/)).toBeTruthy();
  });
});
