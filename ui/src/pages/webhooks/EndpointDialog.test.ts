import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import EndpointDialog from './EndpointDialog.svelte';
import type { EventType } from './types.js';

const create = vi.hoisted(() => vi.fn());
// A plain function in front of the spy: the spy's own record of a rejected call would fail the test.
let refusal: Error | undefined;
vi.mock('../../lib/trpc.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/trpc.js')>()),
  trpc: { webhooks: { create: { mutate: (input: unknown) => (create(input), refusal ? Promise.reject(refusal) : Promise.resolve(create.mock.results.at(-1)?.value)) } } },
}));

beforeEach(() => {
  create.mockReset();
  refusal = undefined;
});

const eventTypes = [{ name: 'key.rotated', description: 'A key was rotated', builtIn: true }] as unknown as EventType[];

describe('the endpoint form', () => {
  it('marks a missing address and no events at once, focusing the first, sending nothing', async () => {
    render(EndpointDialog, { eventTypes, onclose: vi.fn() });
    await fireEvent.click(screen.getByRole('button', { name: 'Add endpoint' }));
    const url = screen.getByLabelText(/^URL/);
    await waitFor(() => expect(url.getAttribute('aria-invalid')).toBe('true'));
    expect(screen.getByText('Give the address Gatehouse should send events to.')).toBeTruthy();
    expect(screen.getByText('Pick at least one event type, or subscribe to all events.')).toBeTruthy();
    expect(document.activeElement).toBe(url);
    expect(create).not.toHaveBeenCalled();
  });

  it("puts the server's refusal of the address beside it", async () => {
    const err = new TRPCClientError<never>('url: private addresses cannot receive webhooks');
    Object.assign(err, { data: { code: 'BAD_REQUEST', field: 'url' } });
    refusal = err;
    render(EndpointDialog, { eventTypes, onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^URL/), { target: { value: 'http://10.0.0.1/hook' } });
    await fireEvent.click(screen.getByLabelText(/All events/));
    await fireEvent.click(screen.getByRole('button', { name: 'Add endpoint' }));
    await screen.findByText('Private addresses cannot receive webhooks.');
    expect(screen.getByLabelText(/^URL/).getAttribute('aria-invalid')).toBe('true');
  });
});
