import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { check, fieldOf, focusFirstError, fromServer, plainMessage } from './form-errors.js';

/** A 400 as the tRPC client sees it: the server's formatter puts zod's issues (all of them) in data. */
function badRequest(issues: { path: string; message: string }[] | undefined, field?: string, message = 'Bad input'): TRPCClientError<never> {
  const err = new TRPCClientError<never>(message);
  Object.assign(err, { data: { code: 'BAD_REQUEST', httpStatus: 400, issues, field } });
  return err;
}

describe('form errors', () => {
  it('collects every client-side problem at once, the first per field', () => {
    const e = check([
      ['name', true, 'Give the key a name.'],
      ['name', true, 'Too long.'],
      ['expiresAt', true, 'Not a date and time.'],
      ['ipAllowlist', false, 'never shown'],
    ]);
    expect(e.fields).toEqual({ name: 'Give the key a name.', expiresAt: 'Not a date and time.' });
  });

  it('finds the field a server path belongs to, the nearest one the form shows', () => {
    const known = ['name', 'permissions', 'rateLimits.0.limit', 'credits'];
    expect(fieldOf('permissions.1', known)).toBe('permissions');
    expect(fieldOf('rateLimits.0.limit', known)).toBe('rateLimits.0.limit');
    expect(fieldOf('credits.refill.amount', known)).toBe('credits');
    expect(fieldOf('metadata.a', known)).toBeUndefined();
  });

  it('rewrites schema jargon into plain words', () => {
    expect(plainMessage(`'NotAScope' is not a preset (read-only, write, admin) or a scope "resource:action" in lowercase`)).toBe(
      '“NotAScope” is not a permission. Use a preset (read-only, write, admin) or a scope such as products:write, in lowercase.',
    );
    expect(plainMessage('at least 1')).toBe('Must be at least 1.');
    expect(plainMessage('at least 1 second')).toBe('Must be at least 1 second.');
    expect(plainMessage('at most 200 characters')).toBe('Too long: at most 200 characters.');
    expect(plainMessage('expected an ISO 8601 date-time such as 2030-01-31T00:00:00Z')).toBe('Not a date and time. Write it as 2030-01-31 14:00.');
    expect(plainMessage('permissions.1: must be granted by an operator', 'permissions.1')).toBe('Must be granted by an operator.');
    expect(plainMessage('expiresAt: must be in the future')).toBe('Must be in the future.');
  });

  it('places every issue the server gave on its field, and the rest in general with a readable name', () => {
    const e = fromServer(
      badRequest([
        { path: 'name', message: 'at most 200 characters' },
        { path: 'permissions.1', message: `'NotAScope' is not a preset (read-only, write, admin) or a scope "resource:action" in lowercase` },
        { path: 'ipAllowlist.0', message: 'expected an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24' },
        { path: 'ipAllowlist.2', message: 'expected an IPv4/IPv6 address or CIDR block such as 203.0.113.0/24' },
        { path: 'metadata.plan', message: 'at most 64 characters' },
      ]),
      ['name', 'permissions', 'ipAllowlist'],
    );
    expect(e.fields.name).toBe('Too long: at most 200 characters.');
    expect(e.fields.permissions).toMatch(/^“NotAScope” is not a permission/);
    expect(e.fields.permissions).not.toContain('permissions.1');
    expect(e.fields.ipAllowlist).toBe('Entry 1: Not an IP address or block. Write it as 203.0.113.7 or 203.0.113.0/24. Entry 3: Not an IP address or block. Write it as 203.0.113.7 or 203.0.113.0/24.');
    expect(e.general).toEqual(['Metadata, plan: Too long: at most 64 characters.']);
  });

  it("takes a core error's one field, and keeps an error naming no field as it is", () => {
    const one = fromServer(badRequest(undefined, 'rateLimits', 'rateLimits: per-minute may not exceed your plan (100 per 60 s)'), ['rateLimits']);
    expect(one.fields).toEqual({ rateLimits: 'Per-minute may not exceed your plan (100 per 60 s).' });
    const none = fromServer(new TRPCClientError('API key revoked-one is revoked'), ['name']);
    expect(none).toEqual({ fields: {}, general: ['API key revoked-one is revoked'] });
  });

  it("names fields as the form does, whatever the error's spelling", () => {
    const e = fromServer(
      badRequest([
        { path: 'patch.name', message: 'at most 200 characters' },
        { path: 'patch.rateLimits.0.limit', message: 'at least 1' },
      ]),
      ['name', 'rateLimits.0.limit'],
      { prefix: 'patch' },
    );
    expect(e.fields).toEqual({ name: 'Too long: at most 200 characters.', 'rateLimits.0.limit': 'Must be at least 1.' });
    const core = fromServer(badRequest(undefined, 'expires_at', 'expires_at: must be in the future'), ['expiresAt']);
    expect(core.fields).toEqual({ expiresAt: 'Must be in the future.' });
    const plan = fromServer(badRequest(undefined, 'rateLimits[0]', "rateLimits[0]: 5000 per 60 s is above plan 'free''s ceiling of 100 per 60 s"), ['rateLimits']);
    expect(plan.fields.rateLimits).toBe("Entry 1: 5000 per 60 s is above plan 'free''s ceiling of 100 per 60 s.");
  });

  it('moves the focus to the first marked input, or to the alert when none is', () => {
    document.body.innerHTML = `<form id="f"><input id="a"><input id="b" aria-invalid="true"><input id="c" aria-invalid="true"></form><form id="g"><p role="alert">No</p></form>`;
    focusFirstError(document.getElementById('f'));
    expect(document.activeElement?.id).toBe('b');
    focusFirstError(document.getElementById('g'));
    expect(document.activeElement?.textContent).toBe('No');
  });
});
