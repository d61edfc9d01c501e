import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import SecretReveal from './SecretReveal.svelte';

describe('a secret shown once', () => {
  const secret = 'gate_sk_live_AbCdEfGhIjKlMnOpQrStUv123456';

  it('warns that it will not be shown again, and lets the user leave only after confirming', async () => {
    const ondone = vi.fn();
    render(SecretReveal, { secret, ondone });
    expect(screen.getByRole('alert').textContent).toMatch(/shown only this once/);
    expect((screen.getByTestId('secret') as HTMLInputElement).value).toBe(secret);
    const done = screen.getByRole('button', { name: 'Done' }) as HTMLButtonElement;
    expect(done.disabled).toBe(true);
    await fireEvent.click(screen.getByLabelText('I have stored this secret somewhere safe'));
    expect(done.disabled).toBe(false);
    await fireEvent.click(done);
    expect(ondone).toHaveBeenCalledOnce();
  });

  it('copies the secret to the clipboard', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(SecretReveal, { secret, ondone: () => {} });
    await fireEvent.click(screen.getByRole('button', { name: 'Copy secret' }));
    expect(writeText).toHaveBeenCalledWith(secret);
    expect(await screen.findByText('Copied')).toBeTruthy();
  });

  it('takes the focus when it appears, so the keyboard lands on the secret', async () => {
    render(SecretReveal, { secret, ondone: () => {} });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('secret')));
  });
});
