import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { key } from '../../../test/fixtures.js';
import KeysView from './KeysView.svelte';
import { keyFiltersOf, keyFiltersQuery, NO_KEY_FILTERS } from './types.js';

const keys = [
  key(),
  key({ id: 'key_analytics', name: 'Analytics', permissions: ['read-only'], start: 'gate_sk_live_Zq9w***', rateLimits: [{ name: 'per-minute', limit: 50, windowSeconds: 60 }], lastUsedAt: new Date(Date.now() - 120_000).toISOString() }),
  key({ id: 'key_old', name: 'Old', status: 'revoked', environment: 'test', rateLimits: [] }),
];
const handlers = () => ({ oncreate: vi.fn(), onrotate: vi.fn(), onrevoke: vi.fn() });

describe('keys table', () => {
  it('lists each key with masked start, environment, permissions, rate limit, calls today, last used and status', () => {
    render(KeysView, { keys, callsToday: { key_prod: 12_400, key_analytics: 3200 }, canWrite: true, ...handlers() });
    const prod = screen.getByRole('row', { name: /key_prod/ });
    expect(prod.textContent).toContain('gate_sk_live_Ab3x***');
    expect(prod.textContent).toContain('live');
    expect(prod.textContent).toContain('100/min');
    expect(prod.textContent).toContain('12.4K');
    expect(prod.textContent).toContain('never');
    const analytics = screen.getByRole('row', { name: /key_analytics/ });
    expect(analytics.textContent).toContain('read-only');
    expect(analytics.textContent).toContain('50/min');
    expect(analytics.textContent).toContain('2 min ago');
    const old = screen.getByRole('row', { name: /key_old/ });
    expect(old.textContent).toContain('revoked');
    expect(old.textContent).toContain('unlimited');
    expect(old.textContent).toContain('—');
    expect(within(old).queryByRole('button')).toBeNull();
  });

  it('never shows anything that looks like a whole secret', () => {
    const { container } = render(KeysView, { keys, callsToday: null, canWrite: true, ...handlers() });
    expect(container.textContent).not.toMatch(/gate_sk_live_[0-9A-Za-z]{28}/);
  });

  it('rotate and revoke act on the row they are in', async () => {
    const h = handlers();
    render(KeysView, { keys, callsToday: null, canWrite: true, ...h });
    await fireEvent.click(screen.getByRole('button', { name: 'Rotate key_analytics' }));
    expect(h.onrotate).toHaveBeenCalledWith(expect.objectContaining({ id: 'key_analytics' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Revoke key_prod' }));
    expect(h.onrevoke).toHaveBeenCalledWith(expect.objectContaining({ id: 'key_prod' }));
  });

  it('for a read-only user, every change is disabled and says why', () => {
    render(KeysView, { keys, callsToday: null, canWrite: false, ...handlers() });
    for (const button of [screen.getByRole('button', { name: 'Create key' }), screen.getByRole('button', { name: 'Rotate key_prod' }), screen.getByRole('button', { name: 'Revoke key_prod' })]) {
      expect((button as HTMLButtonElement).disabled).toBe(true);
      expect(button.getAttribute('title')).toMatch(/read-only/);
    }
  });

  it('says what to do when there are no keys', () => {
    render(KeysView, { keys: [], callsToday: null, canWrite: true, ...handlers() });
    expect(screen.getByText(/No API keys yet/)).toBeTruthy();
  });

  it('applies search and filters together, a select at once, and pages with Load more', async () => {
    const onfilter = vi.fn();
    const onmore = vi.fn();
    render(KeysView, { keys, callsToday: null, canWrite: true, filters: NO_KEY_FILTERS, hasMore: true, onfilter, onmore, ...handlers() });
    await fireEvent.input(screen.getByLabelText('Search'), { target: { value: ' prod ' } });
    await fireEvent.input(screen.getByLabelText('Permission'), { target: { value: 'keys:write' } });
    await fireEvent.change(screen.getByLabelText('Environment'), { target: { value: 'live' } });
    expect(onfilter).toHaveBeenLastCalledWith({ search: 'prod', environment: 'live', status: 'current', permission: 'keys:write' });
    await fireEvent.click(screen.getByRole('button', { name: 'Load more keys' }));
    expect(onmore).toHaveBeenCalled();
    expect(screen.getByRole('link', { name: 'see revoked keys' }).getAttribute('href')).toBe('#/keys?status=revoked');
  });

  it('shows revoked keys apart, and says when no key matches', () => {
    render(KeysView, { keys: [], callsToday: null, canWrite: true, filters: { ...NO_KEY_FILTERS, status: 'revoked' }, onfilter: vi.fn(), ...handlers() });
    expect(screen.getByRole('heading', { name: 'Revoked API keys' })).toBeTruthy();
    expect(screen.getByText('No revoked keys match.')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Clear filters' })).toBeTruthy();
  });

  it('keeps the filters in the address and reads them back, unknown values falling back to the default', () => {
    const f = { search: 'prod', environment: 'test' as const, status: 'revoked' as const, permission: 'admin' };
    const query = keyFiltersQuery(f);
    expect(query).toEqual({ q: 'prod', env: 'test', status: 'revoked', permission: 'admin' });
    expect(keyFiltersOf(new URLSearchParams(query))).toEqual(f);
    expect(keyFiltersQuery(NO_KEY_FILTERS)).toEqual({ q: '', env: '', status: '', permission: '' });
    expect(keyFiltersOf(new URLSearchParams('env=prod&status=gone'))).toEqual(NO_KEY_FILTERS);
  });
});
