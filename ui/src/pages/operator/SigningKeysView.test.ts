import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import SigningKeysView from './SigningKeysView.svelte';
import type { SigningKeys } from './types.js';

const day = 86_400_000;
const now = Date.now();
const iso = (offset: number) => new Date(now + offset).toISOString();
const data: SigningKeys = {
  nextRotationAt: iso(20 * day),
  keys: [
    { kid: 'nextKidAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', alg: 'ES256', state: 'next', createdAt: iso(-60_000), activatedAt: null, retiredAt: null, revokedAt: null, publishedUntil: null },
    { kid: 'activeKidBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', alg: 'ES256', state: 'active', createdAt: iso(-10 * day), activatedAt: iso(-10 * day), retiredAt: null, revokedAt: null, publishedUntil: null },
    { kid: 'retiredKidCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC', alg: 'EdDSA', state: 'retired', createdAt: iso(-40 * day), activatedAt: iso(-40 * day), retiredAt: iso(-10 * day), revokedAt: null, publishedUntil: iso(day) },
    { kid: 'revokedKidDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD', alg: 'ES256', state: 'revoked', createdAt: iso(-70 * day), activatedAt: iso(-70 * day), retiredAt: null, revokedAt: iso(-50 * day), publishedUntil: null },
  ],
} as SigningKeys;

const row = (kidStart: string) => screen.getByTitle(new RegExp(`^${kidStart}`)).closest('tr')!;

describe('the operator signing keys page', () => {
  it('lists each key with its algorithm and state and says when the next rotation is due', () => {
    render(SigningKeysView, { data, onrotate: () => {}, onrevoke: () => {} });
    expect(screen.getByText(/Next scheduled rotation:/).textContent).toMatch(/\(in (19|20) d\)/);
    expect(within(row('nextKid')).getByText('next')).toBeTruthy();
    expect(within(row('activeKid')).getByText('active')).toBeTruthy();
    expect(within(row('retiredKid')).getByText('EdDSA')).toBeTruthy();
    expect(within(row('retiredKid')).getByText('retired')).toBeTruthy();
    expect(within(row('revokedKid')).getByText('withdrawn')).toBeTruthy();
    // A revoked key cannot be revoked again; every other one can.
    expect(within(row('revokedKid')).queryByRole('button', { name: /Revoke/ })).toBeNull();
    expect(screen.getAllByRole('button', { name: /^Revoke / })).toHaveLength(3);
  });

  it('asks before revoking, says an active key is replaced at once, and revokes only on confirmation', async () => {
    const revoked: string[] = [];
    render(SigningKeysView, { data, onrotate: () => {}, onrevoke: (kid: string) => void revoked.push(kid) });
    await fireEvent.click(within(row('activeKid')).getByRole('button', { name: /Revoke/ }));
    const dialog = screen.getByRole('dialog');
    expect(dialog.textContent).toMatch(/stops verifying at once/);
    expect(dialog.textContent).toMatch(/A new active key is made immediately/);
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Keep the key' }));
    expect(revoked).toEqual([]);
    expect(screen.queryByRole('dialog')).toBeNull();

    await fireEvent.click(within(row('retiredKid')).getByRole('button', { name: /Revoke/ }));
    expect(screen.getByRole('dialog').textContent).not.toMatch(/new active key/);
    await fireEvent.click(screen.getByRole('button', { name: 'Revoke the key' }));
    expect(revoked).toEqual([data.keys[2]!.kid]);
  });

  it('rotates now only after confirming', async () => {
    let rotations = 0;
    render(SigningKeysView, { data, onrotate: () => void rotations++, onrevoke: () => {} });
    await fireEvent.click(screen.getByRole('button', { name: 'Rotate now' }));
    expect(rotations).toBe(0);
    await fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Rotate now' }));
    expect(rotations).toBe(1);
  });
});
