import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import LimitRequestForm from './LimitRequestForm.svelte';

const keyLimits = [{ keyId: 'key_prod', limitName: 'per-minute', limit: 100, windowSeconds: 60 }];
const base = { start: { kind: 'key_limit' as const, keyId: 'key_prod', limitName: 'per-minute' }, keyLimits, quota: 100_000, planName: 'Free', canAskWorkspace: true, oncancel: vi.fn() };

describe('the limit-request form, when something is wrong', () => {
  it('refuses to ask for no more than the current limit, beside the amount, and sends nothing', async () => {
    const onsubmit = vi.fn();
    render(LimitRequestForm, { ...base, onsubmit });
    await fireEvent.input(screen.getByLabelText(/^New limit per 60 s/), { target: { value: '80' } });
    await fireEvent.submit(screen.getByRole('button', { name: 'Send request' }).closest('form')!);
    const amount = screen.getByLabelText(/^New limit per 60 s/);
    await waitFor(() => expect(amount.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText('Ask for more than the current 100.')).toBeTruthy();
    expect(document.activeElement).toBe(amount);
    expect(onsubmit).not.toHaveBeenCalled();
  });

  it("puts the server's refusal beside the field it names, in words", async () => {
    const err = new TRPCClientError<never>('requestedLimit: above the plan ceiling');
    Object.assign(err, { data: { code: 'BAD_REQUEST', field: 'requested_limit' } });
    render(LimitRequestForm, { ...base, onsubmit: vi.fn(), error: 'requestedLimit: above the plan ceiling', serverError: err });
    const amount = screen.getByLabelText(/^New limit per 60 s/);
    expect(amount.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Above the plan ceiling.')).toBeTruthy();
    expect(screen.queryByText(/requestedLimit:/)).toBeNull();
  });
});
