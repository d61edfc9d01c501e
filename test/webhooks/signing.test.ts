import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { generateSigningSecret, signedHeaders } from '../../core/webhooks/signing.js';

describe('Standard Webhooks signing', () => {
  it('issues whsec_ secrets of 24 random bytes', () => {
    const a = generateSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(24);
    expect(generateSigningSecret()).not.toBe(a);
  });

  it('signs so that the standardwebhooks package verifies, with either secret during an overlap', () => {
    const [current, previous, stranger] = [generateSigningSecret(), generateSigningSecret(), generateSigningSecret()];
    const body = JSON.stringify({ type: 'key.rotated', timestamp: '2026-01-01T00:00:00.000Z', data: { key_id: 'k' } });
    const headers = signedHeaders([current, previous], 'msg_1', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+ v1,[A-Za-z0-9+/=]+$/);
    expect(new Webhook(current).verify(body, headers)).toMatchObject({ data: { key_id: 'k' } });
    expect(new Webhook(previous).verify(body, headers)).toMatchObject({ type: 'key.rotated' });
    expect(() => new Webhook(stranger).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(current).verify(body.replace('"k"', '"x"'), headers)).toThrow();
  });
});
