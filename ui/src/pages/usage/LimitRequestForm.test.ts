import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import LimitRequestForm from './LimitRequestForm.svelte';

const keyLimits = [
  { keyId: 'key_prod', limitName: 'per-minute', limit: 100, windowSeconds: 60 },
  { keyId: 'key_prod', limitName: 'per-day', limit: 10_000, windowSeconds: 86_400 },
];

describe('asking the provider for more', () => {
  it("a key's limit: the chosen key and limit, twice the current amount to start, with the reason", async () => {
    const onsubmit = vi.fn();
    render(LimitRequestForm, { start: { kind: 'key_limit', keyId: 'key_prod', limitName: 'per-day' }, keyLimits, quota: 100_000, planName: 'Free', canAskWorkspace: true, onsubmit, oncancel: vi.fn() });
    expect((screen.getByLabelText(/New limit per 86400 s/) as HTMLInputElement).value).toBe('20000');
    await fireEvent.input(screen.getByLabelText('Reason'), { target: { value: 'Nightly sync' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    expect(onsubmit).toHaveBeenCalledWith({ kind: 'key_limit', keyId: 'key_prod', limitName: 'per-day', requestedLimit: 20_000, windowSeconds: 86_400, reason: 'Nightly sync' });
  });

  it('the monthly quota and a plan change, from the banner', async () => {
    const onsubmit = vi.fn();
    render(LimitRequestForm, { start: { kind: 'workspace_quota' }, keyLimits, quota: 100_000, planName: 'Free', canAskWorkspace: true, onsubmit, oncancel: vi.fn() });
    expect(screen.getByText('Now: 100K calls a month.')).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Monthly calls wanted'), { target: { value: '250000' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    expect(onsubmit).toHaveBeenLastCalledWith({ kind: 'workspace_quota', requestedLimit: 250_000, reason: undefined });
    await fireEvent.click(screen.getByLabelText('Another plan'));
    expect(screen.getByText('Now: Free.')).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Plan wanted'), { target: { value: 'pro' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    expect(onsubmit).toHaveBeenLastCalledWith({ kind: 'plan', plan: 'pro', reason: undefined });
  });

  it("without limits:write, the workspace's kinds are disabled; the server's refusal is shown", () => {
    render(LimitRequestForm, { start: { kind: 'key_limit' }, keyLimits, quota: null, planName: null, canAskWorkspace: false, error: 'requestedLimit: must be above the current limit', onsubmit: vi.fn(), oncancel: vi.fn() });
    expect((screen.getByLabelText(/A larger monthly quota/) as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByLabelText('Another plan') as HTMLInputElement).disabled).toBe(true);
    expect(screen.getByRole('alert').textContent).toContain('must be above');
  });
});
