// Gatehouse's OAuth face as the outside world uses it: an unmodified OAuth client library gets a
// token, jose verifies it as a third party would, and a provider's Express service protected by
// gatehouse/express accepts it offline (or online, by introspection).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createRemoteJWKSet, decodeJwt, exportSPKI, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatehouse, type GatehouseMiddleware, type GatehouseVerification } from '@gatehouse/express';
import { startStack, type Stack } from '../harness.js';
import { createKey, postForm, token, until, type OAuthKey } from '../oauth/oauth-client.js';

const AUDIENCE = 'https://products.example';
const OTHER_AUDIENCE = 'https://billing.example';

let stack: Stack;
let service: OAuthKey;
let reader: OAuthKey;
let writer: OAuthKey;
let offline: GatehouseMiddleware;
let online: GatehouseMiddleware;
let server: Server;
let api: string;
const errors: Error[] = [];

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  service = await createKey(stack, { id: 'products-service', permissions: ['keys:verify', 'usage:write'] });
  reader = await createKey(stack, { id: 'reader', permissions: ['products:read'] });
  writer = await createKey(stack, { id: 'writer', permissions: ['products:write'] });
  await (await stack.caller()).oauth.updateSettings({ tokenTtlSeconds: 900, audiences: [AUDIENCE, OTHER_AUDIENCE] });

  // The provider's own API: the same route guarded offline (JWKS) and online (introspection).
  const common = { url: stack.url, apiKey: service.secret, audience: AUDIENCE, permission: 'products:read', flushIntervalMs: 60_000, onError: (e: Error) => errors.push(e) };
  offline = gatehouse(common);
  online = gatehouse({ ...common, introspect: true });
  const handler: express.RequestHandler = (req, res) => {
    const v = res.locals['gatehouse'] as GatehouseVerification;
    res.json({ id: req.params['id'], by: v.key_id, workspace: v.workspace_id, permissions: v.permissions });
  };
  const app = express();
  app.get('/products/:id', offline, handler);
  app.get('/live/products/:id', online, handler);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await offline?.close();
  await online?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await stack?.close();
});

const call = (path: string, accessToken: string) => fetch(api + path, { headers: { authorization: `Bearer ${accessToken}` } });

/** openid-client, unmodified: RFC 8414 discovery, then client credentials with HTTP Basic. */
async function discover(key: OAuthKey): Promise<client.Configuration> {
  return client.discovery(new URL(stack.url), key.clientId, undefined, client.ClientSecretBasic(key.secret), {
    algorithm: 'oauth2',
    // The stack listens on plain http on loopback; production issuers are https.
    execute: [client.allowInsecureRequests],
  });
}

async function refusal(res: Response): Promise<{ status: number; code: string; challenge: string | null }> {
  return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code, challenge: res.headers.get('www-authenticate') };
}

describe('OAuth with real clients', () => {
  it('openid-client discovers Gatehouse and gets a token that jose verifies and the Express service accepts offline', async () => {
    const config = await discover(reader);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(stack.url);
    expect(metadata.token_endpoint).toBe(`${stack.url}/oauth/token`);
    const grant = await client.clientCredentialsGrant(config);
    expect(grant.token_type.toLowerCase()).toBe('bearer');
    expect(grant.expires_in).toBeGreaterThan(0);
    expect(grant.scope).toBe('products:read');

    // A third party with nothing but the published keys.
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(grant.access_token, jwks, { issuer: stack.url, audience: AUDIENCE, algorithms: ['ES256', 'EdDSA'], typ: 'at+jwt' });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({ sub: 'reader', client_id: reader.clientId, scope: 'products:read', workspace_id: 'default' });

    const ok = await call('/products/42', grant.access_token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: '42', by: 'reader', workspace: 'default', permissions: ['products:read'] });

    // Reported in the same batches as key-checked calls, under the token's key.
    await offline.flush();
    await stack.deps.usage.flush();
    expect(errors).toEqual([]);
    const log = await stack.rest('GET', '/logs?source=service&limit=20');
    expect(log.body.entries.map((e: { key_id: string; route: string; status: number }) => [e.key_id, e.route, e.status])).toContainEqual(['reader', '/products/{id}', 200]);
  });

  it('refuses a missing permission with 403, and a tampered, foreign-audience, alg none or HS256-with-the-public-key token with 401', async () => {
    const writerToken = await token(stack, writer);
    expect(await refusal(await call('/products/1', writerToken))).toEqual({ status: 403, code: 'insufficient_permissions', challenge: 'Bearer error="insufficient_scope"' });
    // Again, now from the service's cache of verified tokens: the same refusal.
    expect(await refusal(await call('/products/1', writerToken))).toEqual({ status: 403, code: 'insufficient_permissions', challenge: 'Bearer error="insufficient_scope"' });

    const good = await token(stack, reader);
    const invalid = { status: 401, code: 'not_found', challenge: 'Bearer error="invalid_token"' };
    // The payload edited to claim another scope: the signature no longer matches.
    const [h, p, s] = good.split('.') as [string, string, string];
    const claims = decodeJwt(good);
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'products:read products:write' })).toString('base64url');
    expect(await refusal(await call('/products/1', `${h}.${forged}.${s}`))).toEqual(invalid);
    expect((await call('/products/1', `${h}.${p}.${s}`)).status).toBe(200);

    // Valid and signed, but for another service of the same provider.
    const billing = await client.clientCredentialsGrant(await discover(reader), { resource: OTHER_AUDIENCE });
    expect(decodeJwt(billing.access_token).aud).toBe(OTHER_AUDIENCE);
    expect(await refusal(await call('/products/1', billing.access_token))).toEqual(invalid);

    // Unsigned.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    expect(await refusal(await call('/products/1', none))).toEqual(invalid);

    // Signed with HMAC, using the published public key as the shared secret (algorithm confusion).
    const { keys } = (await (await fetch(`${stack.url}/.well-known/jwks.json`)).json()) as { keys: (JWK & { kid: string; alg: string })[] };
    const published = keys.find((k) => k.kid === (JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string }).kid)!;
    const pem = await exportSPKI((await importJWK(published, published.alg)) as CryptoKey);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: published.kid }).sign(new TextEncoder().encode(pem));
    expect(await refusal(await call('/products/1', confused))).toEqual(invalid);
    // x-api-key keeps working beside Bearer.
    expect((await fetch(`${api}/products/1`, { headers: { 'x-api-key': reader.secret } })).status).toBe(200);
  });

  it('refuses an expired token as expired once its lifetime (plus the clock tolerance) is over', async () => {
    await (await stack.caller()).oauth.updateSettings({ tokenTtlSeconds: 1 });
    const short = await token(stack, reader);
    expect((await call('/products/1', short)).status).toBe(200);
    await until(async () => (await call('/products/1', short)).status === 401, 20_000, 'the token to expire');
    expect(await refusal(await call('/products/1', short))).toEqual({ status: 401, code: 'expired', challenge: 'Bearer error="invalid_token"' });
  });

  it('online (introspect: true) refuses a revoked token at once; offline accepts it until it expires', async () => {
    await (await stack.caller()).oauth.updateSettings({ tokenTtlSeconds: 3 });
    const revoked = await token(stack, reader);
    expect((await call('/live/products/7', revoked)).status).toBe(200);
    expect((await call('/products/7', revoked)).status).toBe(200);

    const res = await postForm(stack, '/oauth/revoke', { token: revoked }, { basic: { id: reader.clientId, secret: reader.secret } });
    expect(res.status).toBe(200);

    expect(await refusal(await call('/live/products/7', revoked))).toEqual({ status: 401, code: 'not_found', challenge: 'Bearer error="invalid_token"' });
    // The trade-off: a service checking offline cannot know of the revocation...
    expect((await call('/products/7', revoked)).status).toBe(200);
    // ...until the token expires.
    await until(async () => (await call('/products/7', revoked)).status === 401, 20_000, 'the revoked token to expire offline');
    expect((await refusal(await call('/products/7', revoked))).code).toBe('expired');
    expect(errors).toEqual([]);
  });
});
