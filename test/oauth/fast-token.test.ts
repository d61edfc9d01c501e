import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { useTwoServers } from '../fast-paths.js';
import { createKey, type OAuthKey } from './oauth-client.js';

// POST /oauth/token served twice from the same app: as `app.listen` serves it (the fast path
// first, server/oauth/fast-token.ts) and as Express alone (http.createServer(app)). Every case goes
// to both and must get the same answer: status, the OAuth body, the headers that carry meaning.
const s = useTwoServers();

const HEADERS = ['content-type', 'cache-control', 'pragma', 'www-authenticate', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options'];

interface Case {
  name: string;
  body: string;
  contentType?: string;
  basic?: OAuthKey;
}

async function ask(base: string, c: Case) {
  const headers: Record<string, string> = { 'content-type': c.contentType ?? 'application/x-www-form-urlencoded' };
  if (c.basic) headers['authorization'] = `Basic ${Buffer.from(`${c.basic.clientId}:${c.basic.secret}`).toString('base64')}`;
  const res = await fetch(`${base}/oauth/token`, { method: 'POST', headers, body: c.body });
  const body = (await res.json()) as Record<string, unknown>;
  // A token differs between the two answers only where it must: its id and its times.
  const claims = typeof body['access_token'] === 'string' ? decodeJwt(body['access_token']) : undefined;
  if (claims) {
    expect(claims.exp! - claims.iat!).toBe(body['expires_in']);
    for (const k of ['jti', 'iat', 'exp'] as const) delete claims[k];
    // The issuer is the origin asked (no PUBLIC_URL here): each server's own.
    for (const k of ['iss', 'aud'] as const) if (claims[k] === base) claims[k] = '<this server>';
  }
  return {
    status: res.status,
    body: claims ? { ...body, access_token: claims } : body,
    headers: Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])),
    retryAfter: res.headers.has('retry-after'),
  };
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe('POST /oauth/token on the fast path', () => {
  it('answers exactly as the Express route does, case by case', async () => {
    const key = await createKey(s.stack);
    const revoked = await createKey(s.stack);
    expect((await s.stack.rest('POST', `/api-keys/${revoked.id}/revoke`)).status).toBe(200);
    const limited = await createKey(s.stack, { rate_limits: [{ name: 'one', limit: 1, window_seconds: 3600 }] });
    const post = (k: OAuthKey, extra: Record<string, string> = {}) => form({ grant_type: 'client_credentials', client_id: k.clientId, client_secret: k.secret, ...extra });
    // Its one call an hour, spent.
    expect((await ask(s.fastUrl, { name: 'spend', body: post(limited) })).status).toBe(200);

    const cases: Case[] = [
      { name: 'Basic', body: form({ grant_type: 'client_credentials' }), basic: key },
      { name: 'client_secret_post', body: post(key) },
      { name: 'a narrower scope', body: post(key, { scope: 'products:read' }) },
      { name: 'a charset on the type', body: post(key), contentType: 'application/x-www-form-urlencoded; charset=utf-8' },
      { name: 'no grant_type', body: form({ client_id: key.clientId, client_secret: key.secret }) },
      { name: 'another grant', body: post(key, { grant_type: 'password' }) },
      { name: 'a wrong secret in Basic', body: form({ grant_type: 'client_credentials' }), basic: { ...key, secret: `${key.secret}x` } },
      { name: 'a wrong secret in the body', body: post({ ...key, secret: `${key.secret}x` }) },
      { name: 'no credentials', body: form({ grant_type: 'client_credentials' }) },
      { name: 'both methods', body: post(key), basic: key },
      { name: 'a scope the key lacks', body: post(key, { scope: 'orders:write' }) },
      { name: 'an audience not allowed', body: post(key, { audience: 'https://elsewhere.example' }) },
      { name: 'audience and resource differ', body: post(key, { audience: 'a', resource: 'b' }) },
      { name: 'a revoked key', body: post(revoked) },
      { name: 'a rate-limited key', body: post(limited) },
      { name: 'a parameter twice', body: `${post(key)}&scope=a&scope=b` },
      { name: 'JSON instead of a form', body: JSON.stringify({ grant_type: 'client_credentials' }), contentType: 'application/json' },
      { name: 'too many parameters', body: Array.from({ length: 21 }, (_, i) => `p${i}=1`).join('&') },
      { name: 'a body over 16 kB', body: `${post(key)}&pad=${'x'.repeat(17_000)}` },
      { name: 'an empty body', body: '' },
      // Parsed by qs as body-parser parses them (server/oauth/form.ts): names and values decoded alike.
      { name: 'a bracketed name', body: `${post(key)}&a[b]=1` },
      { name: 'a byte order mark', body: `\uFEFF${post(key)}` },
      { name: 'an encoded scope with a plus', body: `${post(key)}&scope=products%3Aread+products:read` },
      { name: 'a name with no value', body: `${post(key)}&audience` },
    ];
    const before = s.fastTook();
    for (const c of cases) {
      const viaExpress = await ask(s.expressUrl, c);
      const viaFast = await ask(s.fastUrl, c);
      expect({ case: c.name, ...viaFast }).toEqual({ case: c.name, ...viaExpress });
    }
    expect(s.fastTook() - before).toBe(cases.length);
    // The cases are what they say: each answer is the one its name expects.
    const statuses = await Promise.all(cases.map(async (c) => [c.name, (await ask(s.fastUrl, c)).status]));
    expect(Object.fromEntries(statuses)).toMatchObject({ Basic: 200, 'client_secret_post': 200, 'a wrong secret in Basic': 401, 'a revoked key': 400, 'a rate-limited key': 429, 'too many parameters': 400 });
  });

  it('leaves other methods and paths to Express', async () => {
    const before = s.fastTook();
    expect((await fetch(`${s.fastUrl}/oauth/token`)).status).toBe(404);
    expect((await fetch(`${s.fastUrl}/oauth/token?x=1`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })).status).toBe(401);
    expect(s.fastTook()).toBe(before);
  });
});
