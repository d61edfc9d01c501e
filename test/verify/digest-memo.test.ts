import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMemo } from '../../core/keys/digest-memo.js';
import { generateSecret } from '../../core/keys/secret.js';
import { verifyKey } from '../../core/keys/verify.js';
import { startStack, type Stack } from '../harness.js';
import { changeKey, insertKey } from './keys.js';
import { ownVerifier } from './own-verifier.js';

// With a pepper, a verified secret's HMAC is remembered under a cheaper salted hash
// (core/keys/digest-memo.ts): what matters to a user is that it never changes an answer.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, env: { GATEHOUSE_KEY_PEPPER: randomBytes(32).toString('hex') } });
}, 180_000);
afterAll(() => stack?.close());

describe('the verify path under a pepper', () => {
  it('refuses a key disabled after its secret was remembered, and takes it back when enabled', async () => {
    const key = await insertKey(stack);
    const verifier = await ownVerifier(stack);
    try {
      const verify = () => verifyKey({ secret: key.secret, workspaceId: key.workspaceId }, { verifier });
      expect((await verify()).code).toBe('VALID');
      expect((await verify()).code).toBe('VALID'); // the second one found through the memo
      await changeKey(stack, key.pk, 'enabled = false');
      await verifier.catchUp();
      expect((await verify()).code).toBe('DISABLED');
      await changeKey(stack, key.pk, 'enabled = true');
      await verifier.catchUp();
      expect((await verify()).code).toBe('VALID');
    } finally {
      await verifier.stop();
    }
  });

  it('keeps two secrets apart, and remembers neither an unknown secret nor a wrong checksum', async () => {
    const a = await insertKey(stack, { permissions: ['a:read'] });
    const b = await insertKey(stack, { permissions: ['b:read'] });
    const verifier = await ownVerifier(stack);
    try {
      for (let i = 0; i < 3; i++) {
        const [ra, rb] = await Promise.all([
          verifyKey({ secret: a.secret, workspaceId: a.workspaceId }, { verifier }),
          verifyKey({ secret: b.secret, workspaceId: b.workspaceId }, { verifier }),
        ]);
        expect([ra.keyId, ra.permissions]).toEqual([a.id, ['a:read']]);
        expect([rb.keyId, rb.permissions]).toEqual([b.id, ['b:read']]);
      }
      const memo = (verifier as unknown as { memo: DigestMemo }).memo;
      expect(memo.size).toBe(2);
      const unknown = generateSecret('gate', 'live');
      expect((await verifyKey({ secret: unknown, workspaceId: a.workspaceId }, { verifier })).code).toBe('NOT_FOUND');
      expect((await verifyKey({ secret: unknown, workspaceId: a.workspaceId }, { verifier })).code).toBe('NOT_FOUND');
      expect(memo.size).toBe(2);
    } finally {
      await verifier.stop();
    }
  });
});

describe('DigestMemo', () => {
  it('forgets the oldest secret first when full, and names the same secret alike and two apart', () => {
    const memo = new DigestMemo(2);
    const [x, y, z] = ['x', 'y', 'z'].map((s) => memo.nameOf(s));
    expect(memo.nameOf('x')).toBe(x);
    expect(new Set([x, y, z]).size).toBe(3);
    memo.remember(x!, 'hx');
    memo.remember(y!, 'hy');
    memo.remember(z!, 'hz');
    expect([memo.get(x!), memo.get(y!), memo.get(z!)]).toEqual([undefined, 'hy', 'hz']);
  });

  it('names a secret differently in another process (its salt is its own)', () => {
    expect(new DigestMemo(1).nameOf('gate_sk_live_x')).not.toBe(new DigestMemo(1).nameOf('gate_sk_live_x'));
  });
});
