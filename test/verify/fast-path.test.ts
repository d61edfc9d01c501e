import { describe, expect, it } from 'vitest';
import { generateSecret } from '../../core/keys/secret.js';
import { useTwoServers } from '../fast-paths.js';
import { createKey, token } from '../oauth/oauth-client.js';
import { changeKey, insertKey } from './keys.js';

// The same app served twice: once as `app.listen` serves it (the fast path first, then Express)
// and once as Express alone (http.createServer(app)), which answers POST /v1/keys/verify from the
// route table. Every case goes to both and must get the same answer.
const s = useTwoServers();

/** What a caller can see: status, JSON body and the headers that carry meaning. */
const HEADERS = ['content-type', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'ratelimit-limit', 'ratelimit-scope'];

async function ask(base: string, c: Case) {
  const headers: Record<string, string> = { 'content-type': c.contentType ?? 'application/json', ...c.headers };
  if (c.caller !== null) headers['x-api-key'] = c.caller ?? s.stack.bootstrapKey;
  const res = await fetch(`${base}/v1/keys/verify`, { method: 'POST', headers, body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) });
  const text = await res.text();
  return {
    status: res.status,
    body: JSON.parse(text) as unknown,
    headers: Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])),
    // Seconds until the window ends and room left: present alike, their values move between the two requests.
    retryAfter: res.headers.has('retry-after'),
    remaining: res.headers.has('ratelimit-remaining'),
  };
}

interface Case {
  body: unknown;
  caller?: string | null;
  contentType?: string;
  headers?: Record<string, string>;
  /** The fast path takes it (false: it is Express's on both servers). */
  fast?: boolean;
}

describe('POST /v1/keys/verify on the fast path', () => {
  it('answers exactly as the Express route does, case by case', async () => {
    const valid = await insertKey(s.stack, { permissions: ['products:write'] });
    const revoked = await insertKey(s.stack, {});
    await changeKey(s.stack, revoked.pk, 'revoked_at = now()');
    const limited = await insertKey(s.stack, { rateLimits: [{ name: 'none', limit: 0, windowSeconds: 3600 }] });
    const limitedCaller = await insertKey(s.stack, { permissions: ['keys:verify'], rateLimits: [{ name: 'caller', limit: 0, windowSeconds: 3600 }] });
    const countedCaller = await insertKey(s.stack, { permissions: ['keys:verify'], rateLimits: [{ name: 'caller', limit: 1_000_000, windowSeconds: 3600 }] });
    const noScope = await insertKey(s.stack, { permissions: ['keys:read'] });
    const oauthKey = await createKey(s.stack);
    const accessToken = await token(s.stack, oauthKey);

    const cases: Record<string, Case> = {
      valid: { body: { key: valid.secret, permission: 'products:write' } },
      'valid, charset given': { body: { key: valid.secret }, contentType: 'application/json; charset=utf-8' },
      'insufficient permission': { body: { key: valid.secret, permission: 'products:delete' } },
      unknown: { body: { key: generateSecret('gate', 'live') } },
      revoked: { body: { key: revoked.secret } },
      'rate-limited key': { body: { key: limited.secret } },
      'caller over its rate limit': { body: { key: valid.secret }, caller: limitedCaller.secret },
      'caller with a rate limit': { body: { key: valid.secret }, caller: countedCaller.secret },
      'caller without keys:verify': { body: { key: valid.secret }, caller: noScope.secret },
      'caller unknown': { body: { key: valid.secret }, caller: generateSecret('gate', 'live') },
      'access token': { body: { key: accessToken, permission: 'products:read' } },
      'bad JSON': { body: '{"key": ' },
      'JSON not an object': { body: '"gate_sk_live_x"' },
      'missing field': { body: { permission: 'products:write' } },
      'field of the wrong type': { body: { key: valid.secret, cost: 1.5 } },
      'bad permission expression': { body: { key: valid.secret, permission: 'a AND' } },
      'NUL in a field': { body: { key: `${valid.secret}\u0000` } },
      'wrong content-type': { body: { key: valid.secret }, contentType: 'text/plain' },
      'oversize body': { body: { key: valid.secret, pad: 'x'.repeat(310 * 1024) } },
      'no service key': { body: { key: valid.secret }, caller: null, fast: false },
      'blank service key': { body: { key: valid.secret }, caller: '  ', fast: false },
    };
    for (const [name, c] of Object.entries(cases)) {
      const before = s.fastTook();
      const viaFast = await ask(s.fastUrl, c);
      const viaExpress = await ask(s.expressUrl, c);
      expect({ name, ...viaFast }).toEqual({ name, ...viaExpress });
      expect({ name, fast: s.fastTook() - before }).toEqual({ name, fast: c.fast === false ? 0 : 1 });
    }
  });
});
