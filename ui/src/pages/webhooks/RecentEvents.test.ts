import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import WebhooksView from './WebhooksView.svelte';
import type { EventItem } from './types.js';

const events = Array.from({ length: 15 }, (_, i) => ({ id: `evt_${i}`, type: 'product.generated', deliveries: 1, createdAt: '2026-11-30T10:00:00Z' })) as unknown as EventItem[];
// Wrapped in `props`: `events` alone would be read as a mount option.
const base = { endpoints: [], eventTypes: [], events, canWrite: true, oncreate: vi.fn(), onaddtype: vi.fn(), onpublish: vi.fn() };

describe('recent events', () => {
  it('pages past the first 15 with Load older events while the server has more', async () => {
    const onmoreevents = vi.fn();
    render(WebhooksView, { props: { ...base, moreEvents: true, onmoreevents } });
    await fireEvent.click(screen.getByRole('button', { name: 'Load older events' }));
    expect(onmoreevents).toHaveBeenCalledOnce();
  });

  it('offers no more once the last page is in', () => {
    render(WebhooksView, { props: { ...base, moreEvents: false, onmoreevents: vi.fn() } });
    expect(screen.queryByRole('button', { name: 'Load older events' })).toBeNull();
  });
});
