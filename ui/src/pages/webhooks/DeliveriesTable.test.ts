import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from '../../lib/session.svelte.js';
import { delivery, info } from '../../../test/fixtures.js';
import DeliveriesTable from './DeliveriesTable.svelte';

describe('deliveries', () => {
  it('shows each attempt with status code, duration and response excerpt', () => {
    render(DeliveriesTable, { deliveries: [delivery()], info, canWrite: true, onreplay: vi.fn() });
    const row = screen.getByTestId('delivery');
    expect(within(row).getByText('succeeded')).toBeTruthy();
    expect(within(row).getByText('2 attempts')).toBeTruthy();
    expect(row.textContent).toMatch(/HTTP 503\s+in 120 ms/);
    expect(row.textContent).toMatch(/HTTP 200\s+in 42 ms/);
    expect(row.textContent).toContain('{"ok":true}');
  });

  afterEach(() => {
    session.me = null;
  });

  it('links each delivery to its workflow in the Temporal Web UI, for an operator', () => {
    session.me = { workspaceId: 'default', keyId: 'ops', scopes: ['operator'], canWrite: true, expiresAt: null };
    render(DeliveriesTable, { deliveries: [delivery()], info, canWrite: true, onreplay: vi.fn() });
    const link = screen.getByRole('link', { name: /Temporal/ });
    expect(link.getAttribute('href')).toBe('http://127.0.0.1:8233/namespaces/default/workflows/delivery%3Amsg_1%3Aep_1');
    expect(link.getAttribute('target')).toBe('_blank');
  });

  it('shows a customer no workflow ids or Temporal links', () => {
    session.me = { workspaceId: 'acme', keyId: 'admin', scopes: ['keys:write'], canWrite: true, expiresAt: null };
    render(DeliveriesTable, { deliveries: [delivery()], info, canWrite: true, onreplay: vi.fn() });
    expect(screen.queryByRole('link', { name: /Temporal/ })).toBeNull();
    expect(screen.queryByText(/delivery:msg_1/)).toBeNull();
    expect(screen.queryByRole('columnheader', { name: 'Workflow' })).toBeNull();
  });

  it('replays a finished delivery, and retries now one waiting out a backoff', async () => {
    const onreplay = vi.fn();
    render(DeliveriesTable, {
      deliveries: [delivery(), delivery({ id: 'dlv_2', status: 'retrying', nextAttemptAt: new Date(Date.now() + 300_000).toISOString() } as never)],
      info,
      canWrite: true,
      onreplay,
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Replay delivery dlv_1' }));
    expect(onreplay).toHaveBeenCalledWith(expect.objectContaining({ id: 'dlv_1' }));
    expect(screen.queryByRole('button', { name: 'Replay delivery dlv_2' })).toBeNull();
    const retrying = screen.getByRole('button', { name: 'Retry now: delivery dlv_2' }) as HTMLButtonElement;
    expect(retrying.disabled).toBe(false);
    expect(retrying.textContent).toBe('Retry now');
    // WCAG 2.5.3 (axe's label-content-name-mismatch): a voice user says what they see, so the name must hold the visible text.
    expect(retrying.getAttribute('aria-label')).toContain(retrying.textContent);
    expect(retrying.title).toMatch(/next attempt now/);
    expect(screen.getByText(/next in 4 min|next in 5 min/)).toBeTruthy();
    await fireEvent.click(retrying);
    expect(onreplay).toHaveBeenLastCalledWith(expect.objectContaining({ id: 'dlv_2', status: 'retrying' }));
  });

  it('shows a delivery held while its endpoint was paused, which only a resume sends', () => {
    render(DeliveriesTable, { deliveries: [delivery({ id: 'dlv_3', status: 'paused', attemptCount: 0, attempts: [] } as never)], info, canWrite: true, onreplay: vi.fn() });
    expect(screen.getByText('paused').className).toContain('warn');
    const button = screen.getByRole('button', { name: 'Replay delivery dlv_3' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toMatch(/resume it to deliver/);
  });
});
