import { describe, expect, it } from 'vitest';
import { looserCredits, looserRateLimits, type CreditsBound, type RateLimitBound } from '../../core/keys/limit-order.js';

/** What counts as loosening a key's limits: the order every create, update and approval checks against. */
const per = (limit: number, windowSeconds: number, name = `${windowSeconds}s`): RateLimitBound => ({ name, limit, windowSeconds });
const credits = (remaining: number, refill: CreditsBound['refill'] = null): CreditsBound => ({ remaining, refill });

describe('rate limits', () => {
  const before = [per(100, 60, 'per-minute')];

  it.each([
    ['the same limit', [per(100, 60, 'per-minute')]],
    ['a lower limit over the same window', [per(10, 60)]],
    ['the same limit over a longer window', [per(100, 3600)]],
    ['another name for the same limit', [per(100, 60, 'renamed')]],
    ['an extra limit on top', [per(100, 60), per(1000, 86_400)]],
  ])('%s is not looser', (_, next) => {
    expect(looserRateLimits(next, before)).toBeUndefined();
  });

  it.each([
    ['no limits at all', []],
    ['a higher limit over the same window', [per(101, 60)]],
    ['a higher limit over a longer window', [per(1_000_000_000, 3600)]],
    ['the same limit over a shorter window', [per(100, 1)]],
    ['a lower limit over a much shorter window (50/s is 3000/min)', [per(50, 1)]],
    ['only an unrelated, looser limit', [per(1000, 86_400)]],
  ])('%s is looser, and the message names the limit lost', (_, next) => {
    expect(looserRateLimits(next, before)).toBe("drops or raises the rate limit 'per-minute' (100 per 60 s)");
  });

  it('every limit of before must stay covered: keeping one of two is looser', () => {
    const two = [per(10, 1, 'per-second'), per(100, 60, 'per-minute')];
    expect(looserRateLimits([per(10, 1, 'per-second')], two)).toContain("'per-minute'");
    expect(looserRateLimits([per(5, 60)], two)).toBeUndefined();
  });

  it('anything is at least as tight as no limits', () => {
    expect(looserRateLimits([], [])).toBeUndefined();
    expect(looserRateLimits([per(1_000_000_000, 1)], [])).toBeUndefined();
  });
});

describe('credits', () => {
  it('null (unlimited) is the loosest: anything replaces it, it replaces nothing', () => {
    expect(looserCredits(null, null)).toBeUndefined();
    expect(looserCredits(credits(5, { amount: 5, interval: 'daily' }), null)).toBeUndefined();
    expect(looserCredits(null, credits(10))).toBe('removes the credit quota (10 left)');
  });

  it.each([
    ['the same', credits(10, { amount: 100, interval: 'daily' })],
    ['fewer left', credits(9, { amount: 100, interval: 'daily' })],
    ['no refill', credits(10)],
    ['a smaller refill', credits(10, { amount: 50, interval: 'daily' })],
    ['a less frequent refill', credits(10, { amount: 100, interval: 'monthly' })],
  ])('%s is not looser', (_, next) => {
    expect(looserCredits(next, credits(10, { amount: 100, interval: 'daily' }))).toBeUndefined();
  });

  it.each([
    ['more left', credits(11, { amount: 100, interval: 'monthly' }), 'raises the credits left from 10 to 11'],
    ['a bigger refill', credits(10, { amount: 101, interval: 'monthly' }), 'raises the refill from 100 to 101 credits'],
    ['a more frequent refill', credits(10, { amount: 100, interval: 'daily' }), 'refills daily instead of monthly'],
  ])('%s is looser', (_, next, why) => {
    expect(looserCredits(next, credits(10, { amount: 100, interval: 'monthly' }))).toBe(why);
  });

  it('adding a refill where there was none is looser', () => {
    expect(looserCredits(credits(10, { amount: 1000, interval: 'monthly' }), credits(10))).toBe('adds a monthly refill of 1000 credits');
  });
});
