import { TRPCClientError } from '@trpc/client';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import EventTypeDialog from './EventTypeDialog.svelte';
import PublishDialog from './PublishDialog.svelte';
import type { EventType } from './types.js';

const publish = vi.hoisted(() => vi.fn());
// A plain function in front of the spy: the spy's own record of a rejected call would fail the test.
let refusal: Error | undefined;
const answer = (input: unknown) => (publish(input), refusal ? Promise.reject(refusal) : Promise.resolve(publish.mock.results.at(-1)?.value));
vi.mock('../../lib/trpc.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../lib/trpc.js')>()),
  trpc: { events: { publish: { mutate: (i: unknown) => answer(i) } }, eventTypes: { create: { mutate: (i: unknown) => answer(i) } } },
}));

beforeEach(() => {
  publish.mockReset();
  refusal = undefined;
});

const eventTypes = [{ name: 'product.generated', description: '', builtIn: false }] as unknown as EventType[];

describe('publishing an event', () => {
  it('says beside the payload when it is not a JSON object, and sends nothing', async () => {
    render(PublishDialog, { eventTypes, onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Payload/), { target: { value: '{ product_id: 1' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Publish' }));
    const payload = screen.getByLabelText(/^Payload/);
    await waitFor(() => expect(payload.getAttribute('aria-invalid')).toBe('true'));
    expect(document.activeElement).toBe(payload);
    expect(publish).not.toHaveBeenCalled();
  });

  it("puts every field the type's schema refused beside the payload, in words", async () => {
    const err = new TRPCClientError<never>('bad');
    Object.assign(err, {
      data: {
        code: 'BAD_REQUEST',
        issues: [
          { path: 'payload.product_id', message: 'Invalid input: expected string, received number' },
          { path: 'payload.name', message: 'Invalid input: expected string, received undefined' },
        ],
      },
    });
    refusal = err;
    render(PublishDialog, { eventTypes, onclose: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Payload/), { target: { value: '{ "product_id": 1 }' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Publish' }));
    await screen.findByText('Product id: Must be a string. Name: Required.');
  });
});

describe('adding an event type', () => {
  it('asks for a name before sending, beside the field', async () => {
    render(EventTypeDialog, { onclose: vi.fn() });
    await fireEvent.click(screen.getByRole('button', { name: 'Add type' }));
    await screen.findByText('Give the type a name, such as invoice.paid.');
    expect(screen.getByLabelText(/^Name/).getAttribute('aria-invalid')).toBe('true');
    expect(publish).not.toHaveBeenCalled();
  });
});
