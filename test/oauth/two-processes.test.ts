import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { startStack, type Stack } from '../harness.js';
import { createKey, until, type OAuthKey } from './oauth-client.js';

// Two `npm run api` processes on one database: what one revokes, the other refuses.
let stack: Stack;
let a: ApiProcess;
let b: ApiProcess;
let key: OAuthKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await createKey(stack);
  [a, b] = await Promise.all([startApi(stack), startApi(stack)]);
}, 180_000);
afterAll(async () => {
  await Promise.all([stopApi(a), stopApi(b)]);
  await stack?.close();
});

async function form(api: ApiProcess, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const tokenOn = async (api: ApiProcess) => {
  const res = await form(api, '/oauth/token', { grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.secret });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
};
const activeOn = async (api: ApiProcess, token: string) => (await form(api, '/oauth/introspect', { token }, { 'x-api-key': stack.bootstrapKey })).body.active as boolean;

describe('two API processes', () => {
  it('a token revoked on one is inactive on the other at once', async () => {
    const t = await tokenOn(a);
    expect(await activeOn(b, t)).toBe(true);
    expect((await form(a, '/oauth/revoke', { token: t, client_id: key.clientId, client_secret: key.secret })).status).toBe(200);
    expect(await activeOn(b, t)).toBe(false);
    expect(await activeOn(a, t)).toBe(false);
  });

  it('a signing key revoked through one is dropped by the other, which had it cached, from the change notification', async () => {
    const t = await tokenOn(a);
    for (const api of [a, b]) expect(await activeOn(api, t)).toBe(true);
    const kid = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
    const res = await fetch(`${a.url}/oauth/signing-keys/${kid}/revoke`, { method: 'POST', headers: { 'x-api-key': stack.bootstrapKey } });
    expect(res.status).toBe(200);
    // Far inside the key ring's 60 s reload: only the notification explains the new answer.
    await until(async () => !(await activeOn(b, t)), 10_000, 'process B to refuse the revoked key');
    expect(await activeOn(a, t)).toBe(false);
    // Both sign with the replacement.
    for (const api of [a, b]) expect(await activeOn(api, await tokenOn(api))).toBe(true);
  });
});
