import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { key } from '../../../test/fixtures.js';
import EditKeyDialog from './EditKeyDialog.svelte';
import { checkKeyForm, keyFormOf, keyPatch } from './key-form.js';

const update = vi.hoisted(() => vi.fn());
// A plain function in front of the spy: the spy's own record of a rejected call would fail the test.
let refusal: Error | undefined;
vi.mock('../../lib/trpc.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/trpc.js')>()),
  trpc: { keys: { update: { mutate: (input: unknown) => (update(input), refusal ? Promise.reject(refusal) : Promise.resolve(update.mock.results.at(-1)?.value)) } } },
}));

beforeEach(() => {
  update.mockReset();
  refusal = undefined;
});

const metered = key({ credits: { remaining: 420, refill: { amount: 1000, interval: 'monthly' } }, ipAllowlist: ['203.0.113.0/24'] } as never);

describe('editing a key', () => {
  it('sends only what changed, so an unchanged balance is not reset', async () => {
    update.mockResolvedValue(metered);
    const onclose = vi.fn();
    render(EditKeyDialog, { key: metered, onclose });
    await fireEvent.input(screen.getByLabelText(/^Name/), { target: { value: 'Production EU' } });
    await fireEvent.click(screen.getByLabelText('Enabled'));
    await fireEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(onclose).toHaveBeenCalledWith(true));
    expect(update).toHaveBeenCalledWith({ id: 'key_prod', patch: { name: 'Production EU', enabled: false } });
  });

  it('shows every problem it can see at once, beside its field, and focuses the first', async () => {
    render(EditKeyDialog, { key: metered, onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Requests/), { target: { value: '0' } });
    await fireEvent.input(screen.getByLabelText(/^Expires/), { target: { value: '12/31/2030' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    const requests = screen.getByLabelText(/^Requests/);
    await waitFor(() => expect(requests.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByLabelText(/^Expires/).getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Give a whole number of requests, at least 1.')).toBeTruthy();
    expect(screen.getByText('Not a date and time. Write it as 2030-01-31 14:00.')).toBeTruthy();
    expect(document.activeElement).toBe(requests);
    expect(update).not.toHaveBeenCalled();
  });

  it("puts the server's refusals beside the fields they name, in plain words", async () => {
    const err = new TRPCClientError<never>('bad');
    Object.assign(err, {
      data: {
        code: 'BAD_REQUEST',
        issues: [
          { path: 'patch.permissions.1', message: `'NotAScope' is not a preset (read-only, write, admin) or a scope "resource:action" in lowercase` },
          { path: 'patch.ipAllowlist.0', message: 'expected an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24' },
        ],
      },
    });
    refusal = err;
    render(EditKeyDialog, { key: metered, onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Permissions/), { target: { value: 'write NotAScope' } });
    await fireEvent.input(screen.getByLabelText(/^IP allowlist/), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    const permissions = screen.getByLabelText(/^Permissions/);
    await waitFor(() => expect(permissions.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText(/“NotAScope” is not a permission/)).toBeTruthy();
    expect(screen.getByLabelText(/^IP allowlist/).getAttribute('aria-invalid')).toBe('true');
    expect(document.body.textContent).not.toContain('permissions.1');
    expect(document.activeElement).toBe(permissions);
  });
});

describe('the key form', () => {
  it('turns a cleared expiry into null and a new one into an ISO time, and checks it is ahead', () => {
    const before = keyFormOf(key({ expiresAt: '2030-01-31T14:00:00.000Z' }));
    expect(keyPatch(before, { ...before, expiresAt: '' })).toEqual({ expiresAt: null });
    const later = keyPatch(before, { ...before, expiresAt: '2031-02-01 09:30' });
    expect(later.expiresAt).toBe(new Date(2031, 1, 1, 9, 30).toISOString());
    expect(checkKeyForm({ ...before, expiresAt: '2020-01-01' }).fields.expiresAt).toBe('Must be in the future.');
  });

  it('sends the credits whole when the quota changes, and null when it is removed', () => {
    const before = keyFormOf(metered);
    expect(keyPatch(before, { ...before, credits: 5000 })).toEqual({ credits: { remaining: 5000, refill: { amount: 1000, interval: 'monthly' } } });
    expect(keyPatch(before, { ...before, useCredits: false })).toEqual({ credits: null });
  });
});
