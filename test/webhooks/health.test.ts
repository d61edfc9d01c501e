import { describe, expect, it } from 'vitest';
import { byHealth, healthState } from '../../core/webhooks/health.js';

describe('endpoint health state', () => {
  it('says paused and disabled first, then failing for an unbroken run of failures, else by traffic', () => {
    const since = new Date('2026-11-30T08:00:00Z');
    expect(healthState('disabled', since, 10)).toBe('disabled');
    expect(healthState('paused', since, 10)).toBe('paused');
    // Failing stays failing after a quiet day: no success has ended the run.
    expect(healthState('active', since, 0)).toBe('failing');
    expect(healthState('active', null, 0)).toBe('no_traffic');
    expect(healthState('active', null, 3)).toBe('healthy');
  });

  it('lists failing endpoints first, then disabled ones, keeping the given order otherwise', () => {
    const list = [
      { id: 'a', health: 'healthy' as const },
      { id: 'b', health: 'disabled' as const },
      { id: 'c', health: 'failing' as const },
      { id: 'd', health: 'no_traffic' as const },
      { id: 'e', health: 'failing' as const },
      { id: 'f', health: 'paused' as const },
    ];
    expect(byHealth(list).map((e) => e.id)).toEqual(['c', 'e', 'b', 'a', 'd', 'f']);
  });
});
