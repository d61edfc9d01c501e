import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { addKey } from './keys.js';

/**
 * Express trusts X-Forwarded-For only from the peers GATEHOUSE_TRUST_PROXY names. Off (the
 * default), a client's own X-Forwarded-For must change nothing: not an IP allowlist's answer, not
 * the address the audit log records. Configured (here `loopback`, as behind a local proxy), it is
 * the client address everywhere.
 */
const ALLOWED = '203.0.113.7';

async function setUp(stack: Stack) {
  const ws = await stack.workspace(['admin']);
  const pinned = await addKey(stack, ws.workspaceId, { id: 'pinned', permissions: ['read-only'], ipAllowlist: [ALLOWED] });
  return { ws, pinned };
}

async function auditIpOfCreate(stack: Stack, key: string, keyId: string, forwardedFor: string): Promise<string> {
  const created = await stack.rest('POST', '/api-keys', {
    key,
    body: { id: keyId, permissions: ['read-only'] },
    headers: { 'x-forwarded-for': forwardedFor },
  });
  expect(created.status).toBe(201);
  const audit = await stack.rest('GET', `/audit-log?key_id=${keyId}`, { key });
  expect(audit.status).toBe(200);
  const entry = (audit.body.entries as { action: string; ip: string }[]).find((e) => e.action === 'key.created');
  return entry!.ip;
}

describe('GATEHOUSE_TRUST_PROXY unset (the default)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack?.close());

  it('a client’s X-Forwarded-For cannot turn a FORBIDDEN verification into VALID', async () => {
    const { ws, pinned } = await setUp(stack);
    const res = await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { key: pinned }, headers: { 'x-forwarded-for': ALLOWED } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: false, code: 'FORBIDDEN' });
  });

  it('nor let a pinned key in to Gatehouse’s API', async () => {
    const { pinned } = await setUp(stack);
    const res = await stack.rest('GET', '/api-keys', { key: pinned, headers: { 'x-forwarded-for': ALLOWED } });
    expect(res.status).toBe(403);
  });

  it('the audit log records the socket’s address, not the forged one', async () => {
    const { ws } = await setUp(stack);
    expect(await auditIpOfCreate(stack, ws.secret, 'made-behind-no-proxy', '198.51.100.99')).toBe('127.0.0.1');
  });

  it('X-Forwarded-Proto does not make the session cookie Secure', async () => {
    const res = await fetch(`${stack.url}/trpc/session.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gatehouse-csrf': '1', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ key: stack.bootstrapKey }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')!.toLowerCase()).not.toContain('secure');
  });
});

describe('GATEHOUSE_TRUST_PROXY=loopback (behind a proxy on this machine)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { GATEHOUSE_TRUST_PROXY: 'loopback' } });
  });
  afterAll(() => stack?.close());

  it('X-Forwarded-For is the client address: for verification, the API and the audit log', async () => {
    const { ws, pinned } = await setUp(stack);
    const verified = await stack.rest('POST', '/v1/keys/verify', { key: ws.secret, body: { key: pinned }, headers: { 'x-forwarded-for': ALLOWED } });
    expect(verified.body).toMatchObject({ valid: true, code: 'VALID' });
    expect((await stack.rest('GET', '/api-keys', { key: pinned, headers: { 'x-forwarded-for': ALLOWED } })).status).toBe(200);
    expect((await stack.rest('GET', '/api-keys', { key: pinned, headers: { 'x-forwarded-for': '198.51.100.1' } })).status).toBe(403);
    expect(await auditIpOfCreate(stack, ws.secret, 'made-behind-proxy', '198.51.100.99')).toBe('198.51.100.99');
  });

  it('X-Forwarded-Proto: https makes the session cookie Secure', async () => {
    const res = await fetch(`${stack.url}/trpc/session.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gatehouse-csrf': '1', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ key: stack.bootstrapKey }),
    });
    expect(res.headers.get('set-cookie')!.toLowerCase()).toContain('secure');
  });
});
