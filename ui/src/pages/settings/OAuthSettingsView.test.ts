import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import OAuthSettingsView from './OAuthSettingsView.svelte';
import type { OAuthSettings } from './types.js';

const settings: OAuthSettings = { tokenTtlSeconds: 900, audiences: ['https://api.acme.example'] };

describe('the workspace OAuth settings form', () => {
  it('shows the lifetime in words and saves the lifetime and audiences as typed, one audience per line', async () => {
    const saves: unknown[] = [];
    render(OAuthSettingsView, { settings, canEdit: true, onsave: async (input: unknown) => void saves.push(input) });
    expect(screen.getByText(/Tokens live 15 min\./)).toBeTruthy();
    const ttl = screen.getByLabelText('Token lifetime (seconds)') as HTMLInputElement;
    expect(ttl.value).toBe('900');
    await fireEvent.input(ttl, { target: { value: '5400' } });
    expect(screen.getByText(/Tokens live 1 h 30 min\./)).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Allowed audiences, one per line'), { target: { value: 'https://api.acme.example\n\n  https://billing.acme.example  \n' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(saves).toEqual([{ tokenTtlSeconds: 5400, audiences: ['https://api.acme.example', 'https://billing.acme.example'] }]);
    expect(await screen.findByText('Saved.')).toBeTruthy();
  });

  it('refuses a lifetime over 24 h beside the field without saving, and places the server refusal beside its field', async () => {
    let calls = 0;
    render(OAuthSettingsView, {
      settings,
      canEdit: true,
      onsave: async () => {
        calls++;
        const err = new TRPCClientError<never>('audiences.0: not an absolute URI');
        Object.assign(err, { data: { code: 'BAD_REQUEST', field: 'audiences.0' } });
        throw err;
      },
    });
    const ttl = screen.getByLabelText('Token lifetime (seconds)');
    await fireEvent.input(ttl, { target: { value: '90000' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByText('Must be at most 86400 (24 h).')).toBeTruthy();
    expect(ttl.getAttribute('aria-invalid')).toBe('true');
    expect(calls).toBe(0);

    await fireEvent.input(ttl, { target: { value: '600' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(calls).toBe(1);
    expect(screen.getByLabelText('Allowed audiences, one per line').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText(/Not an absolute URI\./)).toBeTruthy();
  });

  it('is read-only without the right to change it', () => {
    render(OAuthSettingsView, { settings, canEdit: false, onsave: async () => {} });
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByLabelText('Token lifetime (seconds)') as HTMLInputElement).disabled).toBe(true);
  });
});
