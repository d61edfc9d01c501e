import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import UsageView, { type Summary, type UsageData } from './UsageView.svelte';

const summary: Summary = { calls: 245_000, errors4xx: 600, errors5xx: 135, errorRate: 0.003, avgLatencyMs: 120, p95LatencyMs: 310, healthScore: 97 };
const quiet: Summary = { calls: 0, errors4xx: 0, errors5xx: 0, errorRate: 0, avgLatencyMs: 0, p95LatencyMs: 0, healthScore: 100 };

const data: UsageData = {
  summary,
  interval: 'day',
  points: [
    { t: '2026-11-01T00:00:00.000Z', calls: 8000, errors4xx: 20, errors5xx: 4, avgLatencyMs: 118, p95LatencyMs: 300 },
    { t: '2026-11-02T00:00:00.000Z', calls: 0, errors4xx: 0, errors5xx: 0, avgLatencyMs: 0, p95LatencyMs: 0 },
  ],
  keys: [
    { id: 'key_prod', name: 'Production', usage: { callsToday: 12_400, callsMonth: 200_000, rateLimits: [{ name: 'per-minute', limit: 100, windowSeconds: 60, used: 85, remaining: 15, resetAt: '2026-11-23T10:01:00Z' }], creditsRemaining: 40 } },
    { id: 'key_test', name: 'Testing', usage: { callsToday: 45, callsMonth: 900, rateLimits: [{ name: 'per-minute', limit: 10, windowSeconds: 60, used: 10, remaining: 0, resetAt: '2026-11-23T10:01:00Z' }], creditsRemaining: null } },
  ],
  months: [
    { month: '2026-11', summary },
    { month: '2026-10', summary: quiet },
  ],
  requests: [
    { id: 'lr_1', keyId: 'key_prod', limitName: 'per-minute', currentLimit: 100, requestedLimit: 500, windowSeconds: 60, reason: 'Black Friday', status: 'pending', requestedBy: 'key_prod', decidedBy: null, decidedAt: null, decisionNote: null, createdAt: '2026-11-23T09:00:00Z' },
  ],
};

describe('usage', () => {
  it('shows totals, p95, and charts with the numbers behind them', () => {
    render(UsageView, { data, canRequest: true, canApprove: true, onrequest: vi.fn(), ondecide: vi.fn() });
    const totals = screen.getByRole('region', { name: 'Totals' });
    expect(within(totals).getByText('245K')).toBeTruthy();
    expect(within(totals).getByText('310 ms')).toBeTruthy();
    expect(within(totals).getByText('97/100')).toBeTruthy();
    expect(screen.getByRole('img', { name: /Calls per day/ })).toBeTruthy();
    expect(screen.getByRole('img', { name: /95th percentile/ })).toBeTruthy();
  });

  it("fills each key's rate bar and warns near and at the limit; flags low credits", () => {
    render(UsageView, { data, canRequest: true, canApprove: true, onrequest: vi.fn(), ondecide: vi.fn() });
    const prod = screen.getByRole('meter', { name: 'key_prod per-minute' });
    expect(prod.getAttribute('aria-valuenow')).toBe('85');
    expect(prod.className).toContain('warn');
    expect(screen.getByRole('row', { name: /Production/ }).textContent).toContain('near limit');
    expect(screen.getByRole('row', { name: /Production/ }).textContent).toContain('low');
    expect(screen.getByRole('meter', { name: 'key_test per-minute' }).className).toContain('bad');
    expect(screen.getByRole('row', { name: /Testing/ }).textContent).toContain('limit hit');
  });

  it('asks for and decides limit increases, each behind its own permission', async () => {
    const onrequest = vi.fn();
    const ondecide = vi.fn();
    render(UsageView, { data, canRequest: true, canApprove: true, onrequest, ondecide });
    await fireEvent.click(screen.getByRole('button', { name: 'Request increase for key_prod per-minute' }));
    expect(onrequest).toHaveBeenCalledWith('key_prod', 'per-minute', 100);
    await fireEvent.click(screen.getByRole('button', { name: 'Approve' }));
    expect(ondecide).toHaveBeenCalledWith(expect.objectContaining({ id: 'lr_1' }), 'approve');
  });

  it('without the permissions, the buttons are disabled and say why', () => {
    render(UsageView, { data, canRequest: false, canApprove: false, onrequest: vi.fn(), ondecide: vi.fn() });
    expect((screen.getByRole('button', { name: 'Approve' }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole('button', { name: 'Approve' }).title).toMatch(/limits:approve/);
    expect((screen.getByRole('button', { name: 'Request increase for key_prod per-minute' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('monthly reports leave quiet months blank instead of claiming a perfect score', () => {
    render(UsageView, { data, canRequest: true, canApprove: true, onrequest: vi.fn(), ondecide: vi.fn() });
    const october = screen.getByRole('row', { name: /2026-10/ });
    expect(october.textContent).not.toContain('100/100');
    expect(screen.getByRole('row', { name: /2026-11/ }).textContent).toContain('97/100');
  });

  it('says so when there was no traffic', () => {
    render(UsageView, { data: { ...data, points: data.points.map((p) => ({ ...p, calls: 0, errors4xx: 0, errors5xx: 0 })) }, canRequest: true, canApprove: true, onrequest: vi.fn(), ondecide: vi.fn() });
    expect(screen.getByText(/No calls in this period/)).toBeTruthy();
  });
});
