import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import CreateKeyDialog from './CreateKeyDialog.svelte';

const create = vi.hoisted(() => vi.fn());
// A plain function in front of the spy: the spy's own record of a rejected call would fail the test.
let refusal: Error | undefined;
vi.mock('../../lib/trpc.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/trpc.js')>()),
  trpc: { keys: { create: { mutate: (input: unknown) => (create(input), refusal ? Promise.reject(refusal) : Promise.resolve(create.mock.results.at(-1)?.value)) } } },
}));

beforeEach(() => {
  create.mockReset();
  refusal = undefined;
});

describe('creating a key', () => {
  it('marks every field the server refused at once, in plain words, focusing the first', async () => {
    const err = new TRPCClientError<never>('bad');
    Object.assign(err, {
      data: {
        code: 'BAD_REQUEST',
        issues: [
          { path: 'permissions.1', message: `'NotAScope' is not a preset (read-only, write, admin) or a scope "resource:action" in lowercase` },
          { path: 'ipAllowlist.0', message: 'expected an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24' },
        ],
      },
    });
    refusal = err;
    render(CreateKeyDialog, { onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Extra scopes/), { target: { value: 'NotAScope' } });
    await fireEvent.input(screen.getByLabelText(/^IP allowlist/), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    const scopes = screen.getByLabelText(/^Extra scopes/);
    await waitFor(() => expect(scopes.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByLabelText(/^IP allowlist/).getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText(/“NotAScope” is not a permission/)).toBeTruthy();
    expect(screen.getByText(/Not an IP address or block/)).toBeTruthy();
    expect(document.body.textContent).not.toContain('permissions.1');
    expect(document.activeElement).toBe(scopes);
  });

  it('checks what it can before sending, all at once, and takes dates as 2030-01-31 14:00', async () => {
    render(CreateKeyDialog, { onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Requests/), { target: { value: '0' } });
    await fireEvent.input(screen.getByLabelText(/^Expires/), { target: { value: '01/31/2030' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    await waitFor(() => expect(screen.getByLabelText(/^Requests/).getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByLabelText(/^Expires/).getAttribute('aria-invalid')).toBe('true');
    expect(create).not.toHaveBeenCalled();

    await fireEvent.input(screen.getByLabelText(/^Requests/), { target: { value: '10' } });
    await fireEvent.input(screen.getByLabelText(/^Expires/), { target: { value: '2030-01-31 14:00' } });
    create.mockResolvedValue({ id: 'k', secret: 'gate_sk_live_x' });
    await fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    await waitFor(() => expect(create).toHaveBeenCalled());
    expect(create.mock.calls[0]![0]).toMatchObject({ expiresAt: new Date(2030, 0, 31, 14, 0).toISOString(), rateLimits: [{ limit: 10 }] });
  });
});
