import { describe, expect, it } from 'vitest';
import { dateInputValue, dateTime, dateTimeSeconds, parseDateInput } from './format.js';
import { withQuery } from './router.svelte.js';

describe('dates', () => {
  const at = new Date(2026, 11, 1, 9, 5, 7);

  it('shows one format everywhere, whatever the locale: year-month-day and 24-hour time', () => {
    expect(dateTime(at)).toBe('2026-12-01 09:05');
    expect(dateTimeSeconds(at)).toBe('2026-12-01 09:05:07');
    expect(dateTime(null)).toBe('—');
  });

  it('reads what the date inputs take, in that same format, and refuses what is not a date', () => {
    expect(parseDateInput('2026-12-01 09:05')?.getTime()).toBe(new Date(2026, 11, 1, 9, 5).getTime());
    expect(parseDateInput('2026-12-01T09:05:07')?.getTime()).toBe(at.getTime());
    expect(parseDateInput(' 2026-12-01 ')?.getTime()).toBe(new Date(2026, 11, 1).getTime());
    for (const bad of ['12/01/2026', '2026-02-30', '2026-12-01 25:00', 'tomorrow', '']) expect(parseDateInput(bad), bad).toBeUndefined();
    expect(dateInputValue(at)).toBe('2026-12-01 09:05');
    expect(parseDateInput(dateInputValue(at))?.getTime()).toBe(new Date(2026, 11, 1, 9, 5).getTime());
  });
});

describe('filters in the address', () => {
  it('writes only the values set, so the default view has a clean URL', () => {
    expect(withQuery('/logs', { status: '4xx', kind: 'all', key: '', live: false, from: undefined })).toBe('/logs?status=4xx&kind=all');
    expect(withQuery('/keys', {})).toBe('/keys');
    expect(withQuery('/keys', { q: 'prod & co' })).toBe('/keys?q=prod%20%26%20co');
  });
});
