import { describe, expect, it } from 'vitest';
import { calculateRetryDelay, JITTER, parseRetryAfter, parseRetrySchedule, SVIX_SCHEDULE_MS } from '../../core/webhooks/retry.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('calculateRetryDelay (Svix calculate_retry_delay)', () => {
  it("follows Svix's schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h", () => {
    expect(SVIX_SCHEDULE_MS).toEqual([0, 5_000, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
    // random 0.5 = no jitter
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) => calculateRetryDelay(SVIX_SCHEDULE_MS, attempt, undefined, 0.5));
    expect(delays).toEqual([5_000, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
  });

  it('gives up after the last scheduled attempt', () => {
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 8, undefined, 0.5)).toBeUndefined();
    expect(calculateRetryDelay([0, 100], 2, 5_000, 0.5)).toBeUndefined();
  });

  it('jitters each delay by at most ±20 %', () => {
    expect(JITTER).toBe(0.2);
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 3, undefined, 0)).toBe(24 * MIN);
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 3, undefined, 0.999999)).toBeCloseTo(36 * MIN, -2);
    const seen = new Set(Array.from({ length: 50 }, () => calculateRetryDelay(SVIX_SCHEDULE_MS, 2, undefined, Math.random())));
    expect(seen.size).toBeGreaterThan(1);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(4 * MIN);
      expect(d).toBeLessThanOrEqual(6 * MIN);
    }
  });

  it('honours Retry-After between 1x and 2x of the scheduled delay', () => {
    // attempt 2 failed: 5 min scheduled
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 2, 7 * MIN, 0.5)).toBe(7 * MIN);
    // asking for less than scheduled does not speed Gatehouse up
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 2, 1_000, 0.5)).toBe(5 * MIN);
    // asking for a day is capped at twice the schedule
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 2, 24 * HOUR, 0.5)).toBe(10 * MIN);
    // the jittered delay is the floor, 2x the plain delay the ceiling
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 2, 0, 0)).toBe(4 * MIN);
    expect(calculateRetryDelay(SVIX_SCHEDULE_MS, 2, 0, 0.99)).toBeGreaterThan(5.9 * MIN);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads seconds and HTTP dates, ignores nonsense', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('parseRetrySchedule (GATEHOUSE_WEBHOOK_RETRY_SCHEDULE)', () => {
  it("defaults to Svix's schedule and reads units", () => {
    expect(parseRetrySchedule(undefined)).toEqual([...SVIX_SCHEDULE_MS]);
    expect(parseRetrySchedule('0, 50ms,5s,2m,1h,30')).toEqual([0, 50, 5_000, 2 * MIN, HOUR, 30_000]);
    expect(() => parseRetrySchedule('0,soon')).toThrow(/'soon' is not a delay/);
  });
});
