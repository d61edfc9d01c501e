import { sql } from 'kysely';
import { notifyKeyChanged } from '../../core/keys/notify.js';
import { typedDb } from '../../db/kysely.js';
import type { Stack } from '../harness.js';

/** A key made through the REST API, as a provider would: its secret and its OAuth client id. */
export interface OAuthKey {
  id: string;
  clientId: string;
  secret: string;
}

let seq = 0;
export async function createKey(stack: Stack, body: Record<string, unknown> = {}): Promise<OAuthKey> {
  const res = await stack.rest('POST', '/api-keys', { body: { id: `oauth-${++seq}-${Date.now()}`, name: 'oauth test', permissions: ['products:read', 'products:write'], ...body } });
  if (res.status !== 201) throw new Error(`create key: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.id, clientId: res.body.client_id, secret: res.body.api_key };
}

export interface FormResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** POSTs a form as an OAuth client does; `basic` sends the client credentials in the Authorization header (RFC 6749 §2.3.1). */
export async function postForm(
  stack: Stack,
  path: string,
  params: Record<string, string>,
  opts: { basic?: { id: string; secret: string }; headers?: Record<string, string> } = {},
): Promise<FormResult> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...opts.headers };
  if (opts.basic) {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers['authorization'] = `Basic ${Buffer.from(`${enc(opts.basic.id)}:${enc(opts.basic.secret)}`).toString('base64')}`;
  }
  const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** client_credentials with `client_secret_post`. */
export function tokenRequest(stack: Stack, key: OAuthKey, extra: Record<string, string> = {}) {
  return postForm(stack, '/oauth/token', { grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.secret, ...extra });
}

export async function token(stack: Stack, key: OAuthKey, extra: Record<string, string> = {}): Promise<string> {
  const res = await tokenRequest(stack, key, extra);
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** RFC 7662 as a provider's service asks: with a key holding keys:verify. */
export function introspect(stack: Stack, accessToken: string, apiKey = stack.bootstrapKey) {
  return postForm(stack, '/oauth/introspect', { token: accessToken }, { headers: { 'x-api-key': apiKey } });
}

/** Polls `check` until it holds or the deadline passes (never a blind sleep). */
export async function until(check: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Moves a key's expiry into the past, as time would, and tells every process (keys cannot be created expired). */
export async function expireKey(stack: Stack, id: string): Promise<void> {
  await stack.orm.em.fork().transactional(async (tx) => {
    const row = await typedDb(tx as never)
      .updateTable('api_key')
      .set({ expires_at: sql<Date>`now() - interval '1 minute'` })
      .where('workspace_id', '=', stack.config.GATEHOUSE_DEFAULT_WORKSPACE)
      .where('id', '=', id)
      .returning('pk')
      .executeTakeFirstOrThrow();
    await notifyKeyChanged(tx as never, row.pk);
  });
}
