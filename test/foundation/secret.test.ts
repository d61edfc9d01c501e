import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, hasValidChecksum, maskSecret } from '../../core/keys/secret.js';

describe('secret format', () => {
  it('is <prefix>_sk_<env>_<22 random><6 checksum> in base62', () => {
    const s = generateSecret('gate', 'live');
    expect(s).toMatch(/^gate_sk_live_[0-9A-Za-z]{28}$/);
    expect(generateSecret('treb', 'test')).toMatch(/^treb_sk_test_/);
  });

  it('never repeats', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generateSecret('gate', 'live')));
    expect(seen.size).toBe(2000);
  });

  it('catches any single mistyped character through the checksum', () => {
    const s = generateSecret('gate', 'live');
    expect(hasValidChecksum(s)).toBe(true);
    for (let i = 13; i < s.length; i++) {
      const c = s[i] === 'a' ? 'b' : 'a';
      expect(hasValidChecksum(s.slice(0, i) + c + s.slice(i + 1))).toBe(false);
    }
    expect(hasValidChecksum(s.slice(0, -1))).toBe(false);
  });

  it('masks to the prefix plus four characters', () => {
    const s = generateSecret('gate', 'live');
    expect(maskSecret(s)).toBe(`${s.slice(0, 17)}***`);
  });

  it('hashes with the pepper when there is one', () => {
    expect(hashSecret('x')).not.toBe(hashSecret('x', 'p'.repeat(32)));
    expect(hashSecret('x')).toMatch(/^[0-9a-f]{64}$/);
  });
});
