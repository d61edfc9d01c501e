import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
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
});
