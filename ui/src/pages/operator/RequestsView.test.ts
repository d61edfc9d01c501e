import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { limitRequest } from '../../../test/fixtures.js';
import RequestsView from './RequestsView.svelte';

describe('limit-request queue', () => {
  it('lists requests across workspaces; pending ones can be approved or declined', async () => {
    const ondecide = vi.fn();
    render(RequestsView, {
      requests: [
        limitRequest(),
        limitRequest({ id: 'lr_2', workspaceId: 'trebol', kind: 'plan', keyId: null, limitName: null, currentLimit: null, requestedLimit: null, windowSeconds: null, requestedPlan: 'pro', reason: 'Growing', status: 'declined', decisionNote: 'Talk to sales' }),
      ],
      ondecide,
    });
    const pending = screen.getByRole('row', { name: /Black Friday/ });
    expect(pending.textContent).toContain('acme');
    expect(pending.textContent).toContain('key_prod per-minute: 100 → 500 / 1 min');
    await fireEvent.click(screen.getByRole('button', { name: 'Approve request lr_1' }));
    expect(ondecide).toHaveBeenCalledWith(expect.objectContaining({ id: 'lr_1' }), 'approve');
    await fireEvent.click(screen.getByRole('button', { name: 'Decline request lr_1' }));
    expect(ondecide).toHaveBeenCalledWith(expect.objectContaining({ id: 'lr_1' }), 'decline');
    const declined = screen.getByRole('row', { name: /Growing/ });
    expect(declined.textContent).toContain('plan change → pro');
    expect(declined.textContent).toContain('Talk to sales');
    expect(screen.queryByRole('button', { name: 'Approve request lr_2' })).toBeNull();
  });
});
