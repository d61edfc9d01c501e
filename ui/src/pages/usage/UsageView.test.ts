import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { limitRequest } from '../../../test/fixtures.js';
import UsageView, { type Summary, type UsageData } from './UsageView.svelte';

const summary: Summary = { calls: 245_000, errors4xx: 600, errors5xx: 135, errorRate: 0.003, avgLatencyMs: 120, p95LatencyMs: 310, healthScore: 97, healthParts: { errors: 97, latency: 97, webhooks: 100 } };
const quiet: Summary = { calls: 0, errors4xx: 0, errors5xx: 0, errorRate: 0, avgLatencyMs: 0, p95LatencyMs: 0, healthScore: 100, healthParts: { errors: 100, latency: 100, webhooks: 100 } };

const data: UsageData = {
  summary,
  interval: 'day',
  points: [
    { t: '2026-11-01T00:00:00.000Z', calls: 8000, errors4xx: 20, errors5xx: 4, avgLatencyMs: 118, p95LatencyMs: 300 },
    { t: '2026-11-02T00:00:00.000Z', calls: 0, errors4xx: 0, errors5xx: 0, avgLatencyMs: 0, p95LatencyMs: 0 },
  ],
  keys: [
    { id: 'key_prod', name: 'Production', usage: { callsToday: 12_400, callsMonth: 200_000, rateLimits: [{ name: 'per-minute', limit: 100, windowSeconds: 60, used: 85, remaining: 15, resetAt: '2026-11-23T10:01:00Z' }], creditsRemaining: 40, refusedToday: 0, refusedMonth: 0, rateWarnings: [] } },
    { id: 'key_test', name: 'Testing', usage: { callsToday: 45, callsMonth: 900, rateLimits: [{ name: 'per-minute', limit: 10, windowSeconds: 60, used: 10, remaining: 0, resetAt: '2026-11-23T10:01:00Z' }], creditsRemaining: null, refusedToday: 0, refusedMonth: 0, rateWarnings: [] } },
  ],
  months: [
    { month: '2026-11', summary },
    { month: '2026-10', summary: quiet },
  ],
  requests: [
    limitRequest(),
    limitRequest({ id: 'lr_2', kind: 'workspace_quota', keyId: null, limitName: null, windowSeconds: null, currentLimit: 100_000, requestedLimit: 250_000, status: 'declined', decisionNote: 'Not on the free plan', reason: 'Launch' }),
  ],
};

describe('usage', () => {
  it('shows totals, p95, and charts with the numbers behind them', () => {
    render(UsageView, { data, canRequest: true, onrequest: vi.fn() });
    const totals = screen.getByRole('region', { name: 'Totals' });
    expect(within(totals).getByText('245K')).toBeTruthy();
    expect(within(totals).getByText('310 ms')).toBeTruthy();
    expect(within(totals).getByText('97/100')).toBeTruthy();
    expect(screen.getByRole('img', { name: /Calls per day/ })).toBeTruthy();
    expect(screen.getByRole('img', { name: /95th percentile/ })).toBeTruthy();
  });

  it("fills each key's rate bar and warns near and at the limit; flags low credits", () => {
    render(UsageView, { data, canRequest: true, onrequest: vi.fn() });
    const prod = screen.getByRole('meter', { name: 'key_prod per-minute' });
    expect(prod.getAttribute('aria-valuenow')).toBe('85');
    expect(prod.className).toContain('warn');
    expect(screen.getByRole('row', { name: /Production/ }).textContent).toContain('near limit');
    expect(screen.getByRole('row', { name: /Production/ }).textContent).toContain('low');
    expect(screen.getByRole('meter', { name: 'key_test per-minute' }).className).toContain('bad');
    expect(screen.getByRole('row', { name: /Testing/ }).textContent).toContain('limit hit');
  });

  it("asks for more, and shows each request's kind, state and the provider's note; no decision buttons", async () => {
    const onrequest = vi.fn();
    const onrequestmore = vi.fn();
    render(UsageView, { data, canRequest: true, onrequest, onrequestmore });
    await fireEvent.click(screen.getByRole('button', { name: 'Request increase for key_prod per-minute' }));
    expect(onrequest).toHaveBeenCalledWith('key_prod', 'per-minute', 100);
    await fireEvent.click(screen.getByRole('button', { name: 'Request more' }));
    expect(onrequestmore).toHaveBeenCalled();
    const declined = screen.getByRole('row', { name: /Launch/ });
    expect(declined.textContent).toContain('Monthly quota');
    expect(declined.textContent).toContain('100,000 → 250,000 calls');
    expect(declined.textContent).toContain('declined');
    expect(declined.textContent).toContain('Not on the free plan');
    expect(screen.getByRole('row', { name: /Black Friday/ }).textContent).toContain('key_prod per-minute: 100 → 500 / 1 min');
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Decline' })).toBeNull();
  });

  it('without the permission, asking is disabled and says why', () => {
    render(UsageView, { data, canRequest: false, onrequest: vi.fn(), onrequestmore: vi.fn() });
    expect((screen.getByRole('button', { name: 'Request increase for key_prod per-minute' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole('button', { name: 'Request more' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows refusals per key, and the last window that exceeded a limit with how many it refused', () => {
    const refused = {
      ...data,
      keys: [
        {
          ...data.keys[1]!,
          usage: {
            ...data.keys[1]!.usage,
            refusedToday: 25,
            refusedMonth: 31,
            rateWarnings: [{ limitName: 'per-minute', state: 'exceeded' as const, used: 10, limit: 10, refused: 25, windowStart: '2026-11-23T10:00:00Z', windowEnd: '2026-11-23T10:01:00Z' }],
          },
        },
      ],
    };
    render(UsageView, { data: refused, canRequest: true, onrequest: vi.fn() });
    expect(screen.getByRole('columnheader', { name: 'Refused today' })).toBeTruthy();
    const row = screen.getByRole('row', { name: /Testing/ });
    const cells = within(row).getAllByRole('cell');
    expect(cells[2]!.textContent).toMatch(/^25\s*31 this month$/);
    expect(cells[2]!.className).toContain('refused');
    expect(row.textContent).toContain('exceeded — 25 refused');
    // A key with no refusal says 0, without alarm.
    render(UsageView, { data, canRequest: true, onrequest: vi.fn() });
    const quiet = within(screen.getAllByRole('row', { name: /Production/ })[0]!).getAllByRole('cell');
    expect(quiet[2]!.textContent).toBe('0');
    expect(quiet[2]!.className).not.toContain('refused');
  });

  it('monthly reports leave quiet months blank instead of claiming a perfect score', () => {
    render(UsageView, { data, canRequest: true, onrequest: vi.fn() });
    const october = screen.getByRole('row', { name: /2026-10/ });
    expect(october.textContent).not.toContain('100/100');
    expect(screen.getByRole('row', { name: /2026-11/ }).textContent).toContain('97/100');
  });

  it('says so when there was no traffic', () => {
    render(UsageView, { data: { ...data, points: data.points.map((p) => ({ ...p, calls: 0, errors4xx: 0, errors5xx: 0 })) }, canRequest: true, onrequest: vi.fn() });
    expect(screen.getByText(/No calls in this period/)).toBeTruthy();
  });
});
