import { fireEvent, render, screen } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import DialogWithSecret from '../../test/DialogWithSecret.svelte';
import Dialog from './Dialog.svelte';

describe('dialog', () => {
  it('closes with × or Escape when nothing inside holds it', async () => {
    const onclose = vi.fn();
    render(Dialog, { title: 'Plain', onclose, children: createRawSnippet(() => ({ render: () => '<p>text</p>' })) });
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onclose).toHaveBeenCalledOnce();
  });

  it('a show-once secret inside: × asks first, like Done; "Back to the secret" keeps it, "Close anyway" closes', async () => {
    const onclose = vi.fn();
    render(DialogWithSecret, { onclose });
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onclose).not.toHaveBeenCalled();
    expect(screen.getByText(/Close without storing the signing secret\? It is not shown again/)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Back to the secret' }));
    expect(screen.queryByText(/Close without storing/)).toBeNull();
    expect(screen.getByTestId('secret')).toBeTruthy();

    await fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    await fireEvent.click(await screen.findByRole('button', { name: 'Close anyway' }));
    expect(onclose).toHaveBeenCalledOnce();
  });

  it('once the secret is stored, × closes at once', async () => {
    const onclose = vi.fn();
    render(DialogWithSecret, { onclose });
    await fireEvent.click(screen.getByLabelText('I have stored this secret somewhere safe'));
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onclose).toHaveBeenCalledOnce();
  });

  it('says a signing secret is encrypted at rest, and an API key kept as a hash', async () => {
    render(DialogWithSecret, { onclose: vi.fn() });
    expect(screen.getByText(/encrypted at rest/)).toBeTruthy();
    expect(screen.queryByText(/only a hash/)).toBeNull();
  });
});
