import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { dateTimeSeconds } from '../../lib/format.js';
import { checkLogFilters, logFiltersOf, logFiltersQuery, logSearchInput, NO_LOG_FILTERS } from './filters.js';
import LogsTable from './LogsTable.svelte';

const entries = [
  { id: '2', time: '2026-11-23T10:00:02Z', keyId: 'key_prod', source: 'api', method: 'GET', route: '/api-keys/{id}', status: 404, latencyMs: 3, code: 'not_found' },
  { id: '1', time: '2026-11-23T10:00:01Z', keyId: null, source: 'verification', method: 'POST', route: '/v1/keys/verify', status: 200, latencyMs: 1250, code: null },
  { id: '0', time: '2026-11-23T10:00:00Z', keyId: 'key_prod', source: 'ui', method: 'GET', route: '/trpc/keys.list', status: 200, latencyMs: 4, code: null },
];

describe('request log', () => {
  it('shows each request with key, route, status, latency and source; new live rows stand out', () => {
    render(LogsTable, { entries, fresh: new Set(['2']) });
    const rows = screen.getAllByTestId('log-row');
    expect(rows[0]!.textContent).toContain('GET /api-keys/{id}');
    expect(rows[0]!.textContent).toContain('404');
    expect(rows[0]!.textContent).toContain('not_found');
    expect(rows[0]!.className).toContain('fresh');
    expect(rows[1]!.textContent).toContain('1.3 s');
    expect(rows[1]!.textContent).toContain('verification');
    expect(rows[1]!.className).not.toContain('fresh');
    expect(screen.getAllByRole('link', { name: 'key_prod' })[0]!.getAttribute('href')).toBe('#/keys/key_prod');
    // Calls to Gatehouse itself say so, in words.
    expect(rows[0]!.textContent).toContain('Gatehouse API');
    expect(rows[2]!.textContent).toContain('Gatehouse UI');
  });

  it('says so when nothing matches', () => {
    render(LogsTable, { entries: [] });
    expect(screen.getByText(/No requests match/)).toBeTruthy();
  });

  it('shows times to the second, and a row opens its detail (by its time button or a click on the row)', async () => {
    const onopen = vi.fn();
    render(LogsTable, { entries, onopen });
    const rows = screen.getAllByTestId('log-row');
    expect(rows[0]!.textContent).toContain(dateTimeSeconds('2026-11-23T10:00:02Z'));
    expect(dateTimeSeconds('2026-11-23T10:00:02Z')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:02$/);
    await fireEvent.click(screen.getByRole('button', { name: /Details of GET \/api-keys\/\{id\}/ }));
    expect(onopen).toHaveBeenLastCalledWith(expect.objectContaining({ id: '2' }));
    await fireEvent.click(rows[1]!.querySelector('td:nth-child(3)')!);
    expect(onopen).toHaveBeenLastCalledWith(expect.objectContaining({ id: '1' }));
    // The key link goes to the key, not the detail.
    onopen.mockClear();
    await fireEvent.click(screen.getAllByRole('link', { name: 'key_prod' })[0]!);
    expect(onopen).not.toHaveBeenCalled();
  });
});

describe('request log filters', () => {
  it('round-trip through the address, defaults left out', () => {
    const f = { ...NO_LOG_FILTERS, keyId: 'key_prod', status: '4xx', kind: 'all' as const, source: 'ui' as const, from: '2026-12-01 14:05' };
    const query = logFiltersQuery(f);
    expect(query).toMatchObject({ key: 'key_prod', status: '4xx', kind: 'all', source: 'ui', from: '2026-12-01 14:05', route: '', to: '' });
    expect(logFiltersOf(new URLSearchParams(Object.entries(query).filter(([, v]) => v)))).toEqual(f);
    expect(logFiltersQuery(NO_LOG_FILTERS)).toEqual({ key: '', route: '', method: '', status: '', kind: '', source: '', from: '', to: '' });
    expect(logFiltersOf(new URLSearchParams('kind=bogus&source=nope'))).toEqual(NO_LOG_FILTERS);
  });

  it('finds every bad filter at once, and sends times as ISO instants', () => {
    const e = checkLogFilters({ ...NO_LOG_FILTERS, status: '45', from: '12/01/2026', to: '2026-12-01' });
    expect(Object.keys(e.fields)).toEqual(['status', 'from']);
    expect(checkLogFilters({ ...NO_LOG_FILTERS, from: '2026-12-02', to: '2026-12-01' }).fields.to).toBe('Must be after “From”.');
    expect(logSearchInput({ ...NO_LOG_FILTERS, from: '2026-12-01 14:05' }).from).toBe(new Date(2026, 11, 1, 14, 5).toISOString());
  });
});
