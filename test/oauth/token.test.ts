import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { createKey, postForm, token, tokenRequest, type OAuthKey } from './oauth-client.js';

let stack: Stack;
let key: OAuthKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await createKey(stack);
});
afterAll(() => stack.close());

async function jwks() {
  const res = await fetch(`${stack.url}/.well-known/jwks.json`);
  return { res, body: (await res.json()) as { keys: Record<string, unknown>[] } };
}

describe('discovery and JWKS', () => {
  it('publishes RFC 8414 metadata naming this server as issuer and its endpoints', async () => {
    const res = await fetch(`${stack.url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const meta = await res.json();
    expect(meta).toMatchObject({
      issuer: stack.url,
      token_endpoint: `${stack.url}/oauth/token`,
      jwks_uri: `${stack.url}/.well-known/jwks.json`,
      introspection_endpoint: `${stack.url}/oauth/introspect`,
      revocation_endpoint: `${stack.url}/oauth/revoke`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('serves the public keys with kids and a cache lifetime, and never a private part', async () => {
    const { res, body } = await jwks();
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(body.keys.length).toBeGreaterThan(0);
    for (const k of body.keys) {
      expect(k).toMatchObject({ kid: expect.any(String), use: 'sig' });
      expect(['ES256', 'EdDSA']).toContain(k['alg']);
      expect(k).not.toHaveProperty('d');
    }
  });
});

describe('POST /oauth/token', () => {
  it('issues an RFC 9068 token with client_secret_post that a third party verifies with the JWKS alone', async () => {
    const res = await tokenRequest(stack, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'products:read products:write' });
    expect(decodeProtectedHeader(res.body.access_token)).toMatchObject({ typ: 'at+jwt', kid: expect.any(String) });
    const { payload } = await jwtVerify(res.body.access_token, createLocalJWKSet((await jwks()).body as never), { issuer: stack.url, audience: stack.url, typ: 'at+jwt' });
    expect(payload).toMatchObject({
      sub: key.id,
      client_id: key.clientId,
      scope: 'products:read products:write',
      workspace_id: stack.config.GATEHOUSE_DEFAULT_WORKSPACE,
      jti: expect.any(String),
    });
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('accepts HTTP Basic credentials, form-urlencoded before base64', async () => {
    const res = await postForm(stack, '/oauth/token', { grant_type: 'client_credentials' }, { basic: { id: key.clientId, secret: key.secret } });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
  });

  it('narrows the scope to what is asked, and refuses a scope wider than the key', async () => {
    const narrow = await tokenRequest(stack, key, { scope: 'products:read' });
    expect(narrow.status).toBe(200);
    expect(narrow.body.scope).toBe('products:read');
    const wider = await tokenRequest(stack, key, { scope: 'products:read orders:read' });
    expect(wider.status).toBe(400);
    expect(wider.body).toMatchObject({ error: 'invalid_scope' });
  });

  it('gives each of many concurrent clients a token of its own (signatures are made together per event-loop turn)', async () => {
    const clients = [
      { key, scope: 'products:read products:write' },
      { key: await createKey(stack, { permissions: ['orders:read'] }), scope: 'orders:read' },
      { key: await createKey(stack, { permissions: ['products:read'] }), scope: 'products:read' },
    ];
    const asked = Array.from({ length: 24 }, (_, i) => clients[i % clients.length]!);
    const answers = await Promise.all(asked.map((c) => tokenRequest(stack, c.key)));
    const keySet = createLocalJWKSet((await jwks()).body as never);
    const jtis = new Set<string>();
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      const { payload } = await jwtVerify(res.body.access_token, keySet, { issuer: stack.url, typ: 'at+jwt' });
      expect(payload).toMatchObject({ sub: asked[i]!.key.id, client_id: asked[i]!.key.clientId, scope: asked[i]!.scope });
      jtis.add(payload.jti!);
    }
    expect(jtis.size).toBe(asked.length);
  });

  it('sends a token a client can use right away', async () => {
    expect((await token(stack, key)).split('.')).toHaveLength(3);
  });
});
