import { createLocalJWKSet, decodeProtectedHeader, exportSPKI, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNextSigningKey, promoteSigningKey } from '../../core/oauth/signing-keys.js';
import { startStack, type Stack } from '../harness.js';
import { createKey, introspect, postForm, token, until, type OAuthKey } from './oauth-client.js';

let stack: Stack;
let key: OAuthKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await createKey(stack);
});
afterAll(() => stack.close());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const partsOf = (t: string) => t.split('.') as [string, string, string];
const active = async (t: string) => (await introspect(stack, t)).body.active as boolean;
const verifyCode = async (t: string, permission?: string) => (await stack.rest('POST', '/v1/keys/verify', { body: { key: t, permission } })).body;

describe('POST /oauth/introspect (RFC 7662)', () => {
  it('answers an active token with its claims, never cached', async () => {
    const t = await token(stack, key, { scope: 'products:read' });
    const res = await introspect(stack, t);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      active: true,
      scope: 'products:read',
      client_id: key.clientId,
      sub: key.id,
      aud: stack.url,
      iss: stack.url,
      exp: expect.any(Number),
      iat: expect.any(Number),
      jti: expect.any(String),
      token_type: 'Bearer',
      workspace_id: stack.config.GATEHOUSE_DEFAULT_WORKSPACE,
    });
  });

  it('lets the client itself introspect with its credentials', async () => {
    const t = await token(stack, key);
    const res = await postForm(stack, '/oauth/introspect', { token: t }, { basic: { id: key.clientId, secret: key.secret } });
    expect(res.body.active).toBe(true);
  });

  it('refuses a caller without keys:verify, and shows another workspace nothing', async () => {
    const t = await token(stack, key);
    const reader = await createKey(stack, { permissions: ['keys:read'] });
    const refused = await introspect(stack, t, reader.secret);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('insufficient_scope');
    const other = await stack.workspace(['keys:verify']);
    expect((await introspect(stack, t, other.secret)).body).toEqual({ active: false });
    expect((await postForm(stack, '/oauth/introspect', { token: t })).status).toBe(401);
  });

  it('answers active:false for anything Gatehouse did not sign as it is', async () => {
    const t = await token(stack, key);
    const [h, p, s] = partsOf(t);
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    // A widened scope in the payload, the signature kept.
    const tampered = `${h}.${b64({ ...claims, scope: 'products:read products:write admin:all' })}.${s}`;
    // alg none, with a real kid.
    const none = `${b64({ ...header, alg: 'none' })}.${p}.`;
    // HS256 keyed with the public key's bytes (the classic confusion): as a JWK string and as a PEM.
    const jwks = (await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const pub = jwks.keys.find((k) => k.kid === header.kid)!;
    const pem = await exportSPKI((await importJWK(pub, pub.alg)) as CryptoKey);
    const hs = async (secret: string) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: header.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
    for (const forged of [tampered, none, await hs(JSON.stringify(pub)), await hs(pem), 'not.a.jwt', `${h}.${p}`]) {
      expect(await active(forged)).toBe(false);
      expect((await verifyCode(forged)).code).toBe('NOT_FOUND');
    }
    expect(await active(t)).toBe(true);
  });

  it('sees an expired token as inactive, and /v1/keys/verify as EXPIRED', async () => {
    const caller = await stack.caller();
    await caller.oauth.updateSettings({ tokenTtlSeconds: 1 });
    try {
      const t = await token(stack, key);
      await until(async () => !(await active(t)), 10_000, 'the token to expire');
      expect((await verifyCode(t)).code).toBe('EXPIRED');
    } finally {
      await caller.oauth.updateSettings({ tokenTtlSeconds: 900 });
    }
  });
});

describe('POST /v1/keys/verify with an access token', () => {
  it('answers VALID with the token’s scopes, and checks the permission against them', async () => {
    const t = await token(stack, key, { scope: 'products:read' });
    expect(await verifyCode(t, 'products:read')).toMatchObject({ valid: true, code: 'VALID', key_id: key.id, permissions: ['products:read'] });
    expect(await verifyCode(t, 'products:write')).toMatchObject({ valid: false, code: 'INSUFFICIENT_PERMISSIONS' });
  });
});

describe('revocation', () => {
  it('POST /oauth/revoke (RFC 7009) ends a token at once; unknown tokens get the same 200', async () => {
    const t = await token(stack, key);
    const res = await postForm(stack, '/oauth/revoke', { token: t, token_type_hint: 'access_token' }, { basic: { id: key.clientId, secret: key.secret } });
    expect(res.status).toBe(200);
    expect(await active(t)).toBe(false);
    expect((await verifyCode(t)).code).toBe('NOT_FOUND');
    expect((await postForm(stack, '/oauth/revoke', { token: 'garbage', client_id: key.clientId, client_secret: key.secret })).status).toBe(200);
  });

  it('a client cannot revoke another client’s token', async () => {
    const other = await createKey(stack);
    const t = await token(stack, key);
    expect((await postForm(stack, '/oauth/revoke', { token: t, client_id: other.clientId, client_secret: other.secret })).status).toBe(200);
    expect(await active(t)).toBe(true);
  });

  it('disabling or revoking the key ends its tokens at once', async () => {
    const k = await createKey(stack);
    const t = await token(stack, k);
    expect((await stack.rest('PATCH', `/api-keys/${k.id}`, { body: { enabled: false } })).status).toBe(200);
    expect(await active(t)).toBe(false);
    expect((await verifyCode(t)).code).toBe('DISABLED');
    expect((await stack.rest('PATCH', `/api-keys/${k.id}`, { body: { enabled: true } })).status).toBe(200);
    expect(await active(t)).toBe(true);
    expect((await stack.rest('POST', `/api-keys/${k.id}/revoke`)).status).toBe(200);
    expect(await active(t)).toBe(false);
    expect((await verifyCode(t)).code).toBe('NOT_FOUND');
  });
});

describe('a key rotation', () => {
  it('ending the grace early ends the tokens the retired secret obtained, not the new secret’s', async () => {
    const k = await createKey(stack);
    const rotated = await stack.rest('POST', `/api-keys/${k.id}/rotate`, { body: { grace_period_seconds: 3600 } });
    expect(rotated.status).toBe(201);
    const fromOld = await token(stack, k);
    const fromNew = await token(stack, { ...k, secret: rotated.body.api_key });
    expect(await active(fromOld)).toBe(true);
    expect((await stack.rest('POST', `/api-keys/${k.id}/rotation/end-grace`)).status).toBe(200);
    expect(await active(fromOld)).toBe(false);
    expect(await active(fromNew)).toBe(true);
  });
});

describe('EdDSA signing keys', () => {
  it('sign once promoted, while tokens of the ES256 key they replace keep verifying', async () => {
    const before = await token(stack, key);
    expect(decodeProtectedHeader(before).alg).toBe('ES256');
    const deps = () => ({ em: stack.orm.em.fork(), secretKey: stack.config.GATEHOUSE_SECRET_KEY });
    const next = await createNextSigningKey(deps(), 'EdDSA');
    await promoteSigningKey(deps(), next.kid);
    await until(async () => decodeProtectedHeader(await token(stack, key)).kid === next.kid, 5_000, 'a token signed by the EdDSA key');
    const after = await token(stack, key);
    expect(decodeProtectedHeader(after)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    const jwks = createLocalJWKSet((await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as never);
    for (const t of [before, after]) {
      expect(await active(t)).toBe(true);
      await expect(jwtVerify(t, jwks, { issuer: stack.url, typ: 'at+jwt' })).resolves.toBeTruthy();
    }
  });
});
