import { describe, expect, it } from 'vitest';
import { effectiveKeyRateLimits, effectiveLimits, exceededCeiling, implies, monthBounds, UNLIMITED, workspaceRateLimits } from '../../core/plans/effective.js';
import { quotaState } from '../../core/plans/workspace-plan.js';

const rl = (limit: number, windowSeconds: number, name = `${windowSeconds}s`) => ({ name, limit, windowSeconds });
const PLAN = {
  id: 'free',
  name: 'Free',
  keyRateLimits: [{ limit: 100, windowSeconds: 60 }],
  workspaceRateLimits: [{ limit: 1000, windowSeconds: 60 }],
  monthlyCalls: 10_000,
  monthlyCredits: 5000,
  maxKeys: 3,
  maxWebhookEndpoints: 1,
  grantableScopes: ['products:read'],
  logRetentionDays: 7,
};

describe('implies: the key’s own limits already hold it to the ceiling', () => {
  it.each([
    [[rl(100, 60)], true, 'the same limit'],
    [[rl(50, 60)], true, 'a lower limit over the same window'],
    [[rl(1, 1)], true, '1 a second is at most 60 a minute'],
    [[rl(2, 1)], false, '2 a second can be 120 a minute'],
    [[rl(50, 30)], true, 'two windows of 30 s hold at most 100'],
    [[rl(51, 30)], false, 'two windows of 30 s can hold 102'],
    [[rl(40, 45)], true, 'a 60 s window touches two 45 s windows: at most 80'],
    [[rl(100, 120)], false, 'a longer window says nothing about any 60 s'],
    [[], false, 'no limits at all'],
    [[rl(100, 120), rl(1, 1)], true, 'one of several suffices'],
  ])('%j → %s (%s)', (own, expected) => {
    expect(implies(own, { limit: 100, windowSeconds: 60 })).toBe(expected);
  });
});

describe('exceededCeiling: a key’s own limit beyond the plan', () => {
  const ceilings = [{ limit: 100, windowSeconds: 60 }];
  it('a faster rate over a window at least as long', () => {
    expect(exceededCeiling([rl(101, 60)], ceilings)).toEqual({ limit: rl(101, 60), ceiling: ceilings[0] });
    expect(exceededCeiling([rl(201, 120)], ceilings)?.limit).toEqual(rl(201, 120));
    expect(exceededCeiling([rl(200, 120)], ceilings)).toBeUndefined();
  });
  it('more calls in a shorter window than the ceiling allows in its whole window', () => {
    expect(exceededCeiling([rl(101, 1)], ceilings)?.limit).toEqual(rl(101, 1));
    // 10 a second does not contradict 100 a minute: verification adds the ceiling beside it.
    expect(exceededCeiling([rl(10, 1)], ceilings)).toBeUndefined();
  });
  it('names the first offending limit of several; none without ceilings', () => {
    expect(exceededCeiling([rl(10, 60), rl(7000, 3600, 'hourly')], ceilings)?.limit.name).toBe('hourly');
    // 5000 an hour is 83 a minute on average: within 100 per 60 s.
    expect(exceededCeiling([rl(5000, 3600)], ceilings)).toBeUndefined();
    expect(exceededCeiling([rl(1_000_000, 1)], [])).toBeUndefined();
  });
});

describe('effectiveKeyRateLimits: what verification holds a key to', () => {
  it('the key’s own limits plus each ceiling they do not imply', () => {
    const ceilings = [{ limit: 100, windowSeconds: 60 }, { limit: 1000, windowSeconds: 3600 }];
    expect(effectiveKeyRateLimits([], ceilings)).toEqual([rl(100, 60, 'plan:60s'), rl(1000, 3600, 'plan:3600s')]);
    // 90 a minute holds to 100 a minute, not to 1000 an hour (5400).
    expect(effectiveKeyRateLimits([rl(90, 60)], ceilings)).toEqual([rl(90, 60), rl(1000, 3600, 'plan:3600s')]);
    const both = [rl(10, 60), rl(500, 3600)];
    expect(effectiveKeyRateLimits(both, ceilings)).toBe(both);
    expect(effectiveKeyRateLimits(both, [])).toBe(both);
  });
});

describe('effectiveLimits: the plan with the workspace’s overrides', () => {
  it('no plan and no overrides is unlimited', () => {
    expect(effectiveLimits(null, {})).toEqual(UNLIMITED);
  });
  it('the plan’s limits, each override replacing one; null lifts it, for lists to no limits', () => {
    const out = effectiveLimits(PLAN, { monthlyCalls: 50_000, maxKeys: null, keyRateLimits: null as never, grantableScopes: ['orders:*'] });
    expect(out).toEqual({
      ...PLAN,
      planId: 'free',
      planName: 'Free',
      id: undefined,
      name: undefined,
      monthlyCalls: 50_000,
      maxKeys: null,
      keyRateLimits: [],
      grantableScopes: ['orders:*'],
    } as never);
  });
  it('overrides apply without a plan too', () => {
    expect(effectiveLimits(null, { maxKeys: 2 })).toMatchObject({ planId: null, maxKeys: 2, monthlyCalls: null });
  });
  it('workspace limits are named for refusals and counters', () => {
    expect(workspaceRateLimits(effectiveLimits(PLAN, {}))).toEqual([{ name: 'workspace:60s', limit: 1000, windowSeconds: 60 }]);
  });
});

describe('quota state and month bounds', () => {
  it('ok below 80 %, approaching from 80 %, exceeded at 100 %; unlimited is always ok', () => {
    expect(quotaState(799, 1000)).toBe('ok');
    expect(quotaState(800, 1000)).toBe('approaching');
    expect(quotaState(1000, 1000)).toBe('exceeded');
    expect(quotaState(10 ** 12, null)).toBe('ok');
  });
  it('a UTC month, December into January', () => {
    expect(monthBounds(Date.UTC(2026, 11, 31, 23, 59))).toEqual({ start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z') });
  });
});
