import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import KeyHistoryView, { bucketLabel, totals, type KeyHistory } from './KeyHistoryView.svelte';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 10, minute)).toISOString();

const history: KeyHistory = {
  keyId: 'key_prod',
  range: '1h',
  bucketSeconds: 60,
  buckets: [
    { at: at(0), passed: 9, refused: 0, byCode: {} },
    // The minute the dashboard said "9 of 10" about: 25 refusals.
    { at: at(1), passed: 10, refused: 27, byCode: { RATE_LIMITED: 25, DISABLED: 2 } },
    { at: at(2), passed: 4, refused: 0, byCode: {} },
  ],
};

describe('key history chart', () => {
  it('charts passed against refused per bucket, with the figures and the refusals by code', () => {
    render(KeyHistoryView, { history });
    const section = screen.getByRole('region', { name: 'Verifications: passed and refused' });
    expect(section.textContent).toMatch(/23\s*passed,\s*27\s*refused\s*\(54%\) in the last hour; refused for\s*RATE_LIMITED 25, DISABLED 2\./);
    expect(within(section).getByRole('img', { name: /Verifications of this key per minute, passed and refused/ })).toBeTruthy();
    // The numbers behind the chart, as a table.
    const row = within(section).getByRole('rowheader', { name: bucketLabel(at(1), '1h') }).closest('tr')!;
    expect(row.textContent).toContain('10');
    expect(row.textContent).toContain('27');
  });

  it('says so when the key was not verified in the range', () => {
    render(KeyHistoryView, { history: { ...history, range: '24h', bucketSeconds: 3600, buckets: history.buckets.map((b) => ({ ...b, passed: 0, refused: 0, byCode: {} })) } });
    expect(screen.getByText('No verifications of this key in the last 24 hours.')).toBeTruthy();
    expect(screen.queryByRole('img')).toBeNull();
  });

  it('changes the range on request', async () => {
    const onrange = vi.fn();
    render(KeyHistoryView, { history, onrange });
    await fireEvent.change(screen.getByLabelText('Period'), { target: { value: '7d' } });
    expect(onrange).toHaveBeenCalledWith('7d');
  });

  it('labels buckets by time for short ranges and by day for long ones; totals sum every bucket', () => {
    expect(bucketLabel('2026-11-30T10:05:00', '1h')).toBe('10:05');
    expect(bucketLabel('2026-11-30T10:00:00', '7d')).toBe('11-30 10:00');
    expect(bucketLabel('2026-11-30T00:00:00', '30d')).toBe('11-30');
    expect(totals(history)).toEqual({ passed: 23, refused: 27, byCode: [['RATE_LIMITED', 25], ['DISABLED', 2]] });
  });
});
