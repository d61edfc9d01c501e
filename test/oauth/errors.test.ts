import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { createKey, expireKey, postForm, tokenRequest, type OAuthKey } from './oauth-client.js';

// Every error of RFC 6749 §5.2 the token endpoint can answer, and RFC 8707's invalid_target.
let stack: Stack;
let key: OAuthKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await createKey(stack);
});
afterAll(() => stack.close());

const grant = { grant_type: 'client_credentials' };

function expectError(res: { status: number; headers: Headers; body: unknown }, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ error, error_description: expect.any(String) });
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('POST /oauth/token refuses as RFC 6749 §5.2 says', () => {
  it('invalid_request: no grant_type', async () => {
    expectError(await postForm(stack, '/oauth/token', { client_id: key.clientId, client_secret: key.secret }), 400, 'invalid_request');
  });

  it('invalid_request: a JSON body instead of a form', async () => {
    const res = await fetch(`${stack.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...grant, client_id: key.clientId, client_secret: key.secret }),
    });
    expectError({ status: res.status, headers: res.headers, body: await res.json() }, 400, 'invalid_request');
  });

  it('invalid_request: a parameter sent twice', async () => {
    const body = `grant_type=client_credentials&scope=products:read&scope=products:write&client_id=${key.clientId}&client_secret=${key.secret}`;
    const res = await fetch(`${stack.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expectError({ status: res.status, headers: res.headers, body: await res.json() }, 400, 'invalid_request');
  });

  it('invalid_request: two authentication methods at once', async () => {
    const res = await postForm(stack, '/oauth/token', { ...grant, client_secret: key.secret }, { basic: { id: key.clientId, secret: key.secret } });
    expectError(res, 400, 'invalid_request');
  });

  it('invalid_client: no credentials, with a Basic challenge', async () => {
    const res = await postForm(stack, '/oauth/token', grant);
    expectError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('invalid_client: a wrong secret in Basic is a 401 with WWW-Authenticate', async () => {
    const other = await createKey(stack);
    const res = await postForm(stack, '/oauth/token', grant, { basic: { id: key.clientId, secret: other.secret } });
    expectError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('invalid_client: a wrong secret in the body is a 400', async () => {
    expectError(await postForm(stack, '/oauth/token', { ...grant, client_id: key.clientId, client_secret: `${key.secret}x` }), 400, 'invalid_client');
    expectError(await postForm(stack, '/oauth/token', { ...grant, client_id: 'ci_unknown', client_secret: key.secret }), 400, 'invalid_client');
  });

  it('unsupported_grant_type: anything but client_credentials', async () => {
    expectError(await tokenRequest(stack, key, { grant_type: 'password' }), 400, 'unsupported_grant_type');
    expectError(await tokenRequest(stack, key, { grant_type: 'authorization_code', code: 'x' }), 400, 'unsupported_grant_type');
  });

  it('invalid_scope: a scope the key does not hold, or operator', async () => {
    expectError(await tokenRequest(stack, key, { scope: 'products:read orders:read' }), 400, 'invalid_scope');
    expectError(await tokenRequest(stack, key, { scope: 'products:*' }), 400, 'invalid_scope');
    expectError(await tokenRequest(stack, key, { scope: 'operator' }), 400, 'invalid_scope');
  });

  it('unauthorized_client: a revoked, a disabled and an expired key', async () => {
    const revoked = await createKey(stack);
    expect((await stack.rest('POST', `/api-keys/${revoked.id}/revoke`)).status).toBe(200);
    expectError(await tokenRequest(stack, revoked), 400, 'unauthorized_client');

    const disabled = await createKey(stack);
    expect((await stack.rest('PATCH', `/api-keys/${disabled.id}`, { body: { enabled: false } })).status).toBe(200);
    expectError(await tokenRequest(stack, disabled), 400, 'unauthorized_client');

    const expired = await createKey(stack);
    await expireKey(stack, expired.id);
    expectError(await tokenRequest(stack, expired), 400, 'unauthorized_client');
  });

  it('a rate-limited key gets 429 with Retry-After, and its issuance counted against the limit', async () => {
    const limited = await createKey(stack, { rate_limits: [{ name: 'per-hour', limit: 1, window_seconds: 3600 }] });
    expect((await tokenRequest(stack, limited)).status).toBe(200);
    const res = await tokenRequest(stack, limited);
    expectError(res, 429, 'temporarily_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('audiences (RFC 8707)', () => {
  it('names the issuer when the workspace allows none, and refuses any requested audience', async () => {
    const res = await tokenRequest(stack, key);
    expect(res.status).toBe(200);
    expectError(await tokenRequest(stack, key, { audience: 'https://api.example.com' }), 400, 'invalid_target');
  });

  it('takes an allowed audience (as audience or resource), defaults to the first, refuses another', async () => {
    const caller = await stack.caller();
    await caller.oauth.updateSettings({ audiences: ['https://api.example.com', 'https://billing.example.com'] });
    const aud = async (extra: Record<string, string>) => {
      const res = await tokenRequest(stack, key, extra);
      expect(res.status).toBe(200);
      return JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString()).aud as string;
    };
    expect(await aud({})).toBe('https://api.example.com');
    expect(await aud({ audience: 'https://billing.example.com' })).toBe('https://billing.example.com');
    expect(await aud({ resource: 'https://billing.example.com' })).toBe('https://billing.example.com');
    expectError(await tokenRequest(stack, key, { resource: 'https://evil.example.com' }), 400, 'invalid_target');
    expectError(await tokenRequest(stack, key, { audience: 'https://api.example.com', resource: 'https://billing.example.com' }), 400, 'invalid_request');
  });

  it('refuses settings a workspace may not set: a lifetime over 24 h, a duplicate audience', async () => {
    const bad = await stack.rest('PATCH', '/workspace/oauth', { body: { token_ttl_seconds: 86_401 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('token_ttl_seconds');
    const dup = await stack.rest('PATCH', '/workspace/oauth', { body: { audiences: ['a', 'a'] } });
    expect(dup.status).toBe(400);
    expect((await stack.rest('GET', '/workspace/oauth')).body).toEqual({ token_ttl_seconds: 900, audiences: ['https://api.example.com', 'https://billing.example.com'] });
  });
});
