import { generateKeyPairSync } from 'node:crypto';
import { compactVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { signCompactBatched } from '../../core/oauth/sign-batch.js';

// Token requests of one event-loop turn are signed together (core/oauth/sign-batch.ts): each must
// get its own payload signed by its own key, and one failing signature must fail only its request.
describe('signatures made together at the end of a turn', () => {
  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const header = (alg: 'ES256' | 'EdDSA', kid: string) => ({ alg, kid, typ: 'at+jwt' });

  it('gives every request of the turn its own payload, signed by its own key', async () => {
    const asked = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? { alg: 'EdDSA' as const, pair: ed } : { alg: 'ES256' as const, pair: es }));
    const tokens = await Promise.all(asked.map((a, i) => signCompactBatched(header(a.alg, `kid-${a.alg}`), { sub: `key-${i}`, n: i }, a.pair.privateKey)));
    for (const [i, token] of tokens.entries()) {
      const { payload, protectedHeader } = await compactVerify(token, asked[i]!.pair.publicKey, { algorithms: [asked[i]!.alg] });
      expect(protectedHeader).toEqual(header(asked[i]!.alg, `kid-${asked[i]!.alg}`));
      expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ sub: `key-${i}`, n: i });
    }
  });

  it('fails only the request whose signature failed; the others of its turn get their tokens', async () => {
    // An RSA key where P-256 was expected: node:crypto signs, but not an ECDSA signature.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const results = await Promise.allSettled([
      signCompactBatched(header('ES256', 'a'), { n: 1 }, es.privateKey),
      signCompactBatched(header('ES256', 'b'), { n: 2 }, rsa.privateKey),
      signCompactBatched(header('ES256', 'a'), { n: 3 }, es.privateKey),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    for (const r of [results[0], results[2]]) await expect(compactVerify((r as PromiseFulfilledResult<string>).value, es.publicKey)).resolves.toBeTruthy();
  });

  it('signs a request asked for in a later turn in a later batch', async () => {
    const first = await signCompactBatched(header('ES256', 'a'), { n: 1 }, es.privateKey);
    const second = await signCompactBatched(header('ES256', 'a'), { n: 2 }, es.privateKey);
    expect(JSON.parse(new TextDecoder().decode((await compactVerify(second, es.publicKey)).payload))).toEqual({ n: 2 });
    expect(first).not.toBe(second);
  });
});
