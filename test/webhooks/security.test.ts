import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, seal } from '../../core/webhooks/secret-box.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  // No egress allowlist: loopback and every private range are refused, as in production.
  stack = await startStack({ env: { GATEHOUSE_EGRESS_ALLOW_CIDRS: '', GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

async function endpointCount(workspaceId: string): Promise<number> {
  const rows = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from webhook_endpoint where workspace_id = ?`, [workspaceId]);
  return Number(rows[0]!.n);
}

describe('SSRF guard on endpoint URLs', () => {
  it.each([
    ['http://10.0.0.5/hook', /10\.0\.0\.5 is a private address/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
    ['http://[::1]:8080/hook', /::1 is a loopback address/],
    ['http://[::ffff:127.0.0.1]/hook', /IPv6 form of a loopback address/],
    ['http://[fd00::1]/hook', /unique local/],
    ['http://100.64.1.1/hook', /CGNAT/],
    ['http://localhost:8080/hook', /localhost does not resolve to a public address/],
    ['http://127.0.0.1:1/hook', /127\.0\.0\.1 is a loopback address/],
  ])('refuses %s with a 400 that says why, storing nothing', async (url, why) => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/webhooks', { key, body: { url } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_url', field: 'url' });
    expect(res.body.error.message).toMatch(why);
    expect(res.body.error.message).toMatch(/GATEHOUSE_EGRESS_ALLOW_CIDRS/);
    expect(await endpointCount(workspaceId)).toBe(0);
  });

  it('refuses a PATCH to a refused address and an http URL on an https-only endpoint', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: 'https://93.184.215.14/hook', https_only: true } })).body;
    expect(ep.https_only).toBe(true);
    const toPrivate = await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { url: 'https://192.168.0.10/hook' } });
    expect(toPrivate.status).toBe(400);
    expect(toPrivate.body.error.message).toMatch(/private address/);
    const toHttp = await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { url: 'http://93.184.215.14/hook' } });
    expect(toHttp.status).toBe(400);
    expect(toHttp.body.error.message).toMatch(/https-only/);
    expect((await stack.rest('GET', `/webhooks/${ep.id}`, { key })).body.url).toBe('https://93.184.215.14/hook');
    const created = await stack.rest('POST', '/webhooks', { key, body: { url: 'http://93.184.215.14/hook', https_only: true } });
    expect(created.status).toBe(400);
  });

  it('refuses at connect time too: a name that resolves to loopback later (rebinding) gets no request', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    // Accepted while it pointed somewhere public…
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: 'https://93.184.215.14/hook', event_types: ['export.completed'] } })).body;
    // …then it resolves to this machine. Both a name and a literal are judged on the address connected to.
    const port = new URL(rx.url).port;
    for (const url of [`http://localhost:${port}/rebind`, `http://127.0.0.1:${port}/rebind`]) {
      await stack.orm.em.fork().execute(`update webhook_endpoint set url = ? where id = ?`, [url, ep.id]);
      const pub = await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: {} } });
      const ds = await eventually(
        async () => (await stack.rest('GET', `/events/${pub.body.id}/deliveries`, { key })).body.deliveries,
        (d) => d[0]?.status === 'failed',
      );
      const refused = url.includes('localhost') ? /^refused: localhost does not resolve to a public address/ : /^refused: 127\.0\.0\.1 is a loopback address/;
      expect(ds[0].attempts[0]).toMatchObject({ status_code: 0, error: expect.stringMatching(refused) });
    }
    expect(rx.at('/rebind')).toHaveLength(0);
  });
});

describe('bad endpoint input stores nothing', () => {
  it.each([
    [{ url: 'not a url' }, 'url', /not a valid absolute URL/],
    [{ url: 'ftp://example.com/x' }, 'url', /scheme 'ftp'/],
    [{ url: 'https://u:p@example.com/x' }, 'url', /credentials/],
    [{ url: 'https://93.184.215.14/x', event_types: ['no.such.type'] }, 'event_types', /unknown event type 'no.such.type'/],
    [{ url: 'https://93.184.215.14/x', event_types: [] }, 'event_types', /empty list/],
    [{ url: 'https://93.184.215.14/x', event_types: ['Bad Type'] }, 'event_types.0', /dot-separated/],
    [{ url: 'https://93.184.215.14/x', description: 'x'.repeat(501) }, 'description', /500/],
    [{ url: 'https://93.184.215.14/x', colour: 'red' }, undefined, /colour/],
    [{}, 'url', /url/],
  ])('refuses %j', async (body, field, message) => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/webhooks', { key, body });
    expect(res.status).toBe(400);
    if (field) expect(res.body.error.field).toBe(field);
    expect(res.body.error.message).toMatch(message);
    expect(await endpointCount(workspaceId)).toBe(0);
  });
});

// Another workspace's endpoints, events, deliveries and recoveries are 404 on every route and
// procedure naming them: test/security/isolation.test.ts walks them all from the route table and router.

describe('scopes', () => {
  it('needs webhooks:write to change endpoints, events:publish to publish, and a key at all', async () => {
    const reader = await stack.workspace(['read-only']);
    const publisher = await stack.workspace(['events:publish']);
    const w = await stack.rest('POST', '/webhooks', { key: reader.secret, body: { url: 'https://93.184.215.14/x' } });
    expect(w.status).toBe(403);
    expect(w.body.error.message).toMatch(/webhooks:write/);
    expect((await stack.rest('GET', '/webhooks', { key: reader.secret })).status).toBe(200);
    expect((await stack.rest('POST', '/events', { key: reader.secret, body: { type: 'content.approved', payload: {} } })).status).toBe(403);
    expect((await stack.rest('POST', '/events', { key: publisher.secret, body: { type: 'content.approved', payload: {} } })).status).toBe(202);
    expect((await stack.rest('GET', '/events', { key: publisher.secret })).status).toBe(403);
    expect((await stack.rest('GET', '/webhooks', { key: null })).status).toBe(401);
  });
});

describe('signing secrets at rest', () => {
  it('are stored sealed, never in clear, and shown only at creation and rotation', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: 'https://93.184.215.14/x' } })).body;
    const rotated = (await stack.rest('POST', `/webhooks/${ep.id}/rotate-secret`, { key })).body;
    const [row] = await stack.orm.em.fork().execute<{ secret_ciphertext: string; previous_secret_ciphertext: string }[]>(
      `select secret_ciphertext, previous_secret_ciphertext from webhook_endpoint where id = ?`,
      [ep.id],
    );
    const stored = JSON.stringify(row);
    for (const s of [ep.secret, rotated.secret]) {
      expect(stored).not.toContain(s.slice(6));
      expect(stored).not.toContain(Buffer.from(s.slice(6), 'base64').toString('hex'));
    }
    expect(row!.secret_ciphertext).toMatch(/^i1:/);
    const listed = JSON.stringify((await stack.rest('GET', '/webhooks', { key })).body) + JSON.stringify((await stack.rest('GET', `/webhooks/${ep.id}`, { key })).body);
    expect(listed).not.toMatch(/whsec_/);
  });

  it('seal/open: AES-256-GCM bound to its endpoint, keyed by GATEHOUSE_SECRET_KEY when set', async () => {
    const box = { em: stack.orm.em.fork(), secretKey: 'k'.repeat(40) };
    const sealed = await seal(box, 'whsec_abc', 'ep_1');
    expect(sealed).toMatch(/^e1:/);
    expect(await open(box, sealed, 'ep_1')).toBe('whsec_abc');
    await expect(open(box, sealed, 'ep_2')).rejects.toThrow(/could not be decrypted with the GATEHOUSE_SECRET_KEY key/);
    await expect(open({ ...box, secretKey: 'z'.repeat(40) }, sealed, 'ep_1')).rejects.toThrow(/could not be decrypted/);
    // Secrets sealed with the per-install key still open once GATEHOUSE_SECRET_KEY is set.
    const installSealed = await seal({ em: box.em }, 'whsec_old', 'ep_1');
    expect(installSealed).toMatch(/^i1:/);
    expect(await open(box, installSealed, 'ep_1')).toBe('whsec_old');
  });

  it('still signs deliveries correctly from the sealed secret (allowlisted receiver)', async () => {
    // Only this check needs a reachable receiver: a second stack with loopback allowlisted.
    const local = await startStack({ env: { GATEHOUSE_SECRET_KEY: 's'.repeat(48) } });
    try {
      const ep = (await local.rest('POST', '/webhooks', { body: { url: `${rx.url}/sealed`, event_types: ['export.completed'] } })).body;
      const [row] = await local.orm.em.fork().execute<{ secret_ciphertext: string }[]>(`select secret_ciphertext from webhook_endpoint where id = ?`, [ep.id]);
      expect(row!.secret_ciphertext).toMatch(/^e1:/);
      await local.rest('POST', '/events', { body: { type: 'export.completed', payload: { key_id: 'x' } } });
      const [req] = await rx.waitFor('/sealed', 1);
      expect(verify(ep.secret, req!)).toMatchObject({ type: 'export.completed' });
    } finally {
      await local.close();
    }
  });
});
