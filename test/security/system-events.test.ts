import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { Receiver, verify } from '../webhooks/receiver.js';

// Receivers act on a signed `key.revoked` or `webhook.endpoint.disabled` as Gatehouse's word.
// A key with events:publish must not be able to send one: those namespaces are Gatehouse's alone.
let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

const FORGED = [
  'key.revoked',
  'key.created',
  'key.rotated',
  'webhook.endpoint.disabled',
  'webhook.test',
  'usage.rate_limit.exceeded',
  'usage.monthly_report',
  'credits.low',
  // Not built in, but in the same namespaces.
  'key.custom',
  'webhook',
  // Letter case does not make it someone else's.
  'Key.revoked',
  'KEY.REVOKED',
  'Webhook.Endpoint.Disabled',
  'USAGE.rate_limit.exceeded',
  'Credits.low',
];

async function storedEvents(workspaceId: string): Promise<number> {
  const [row] = await stack.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from event where workspace_id = ?`, [workspaceId]);
  return Number(row!.n);
}

async function customTypes(workspaceId: string): Promise<string[]> {
  const rows = await stack.orm.em.fork().execute<{ name: string }[]>(`select name from event_type where workspace_id = ?`, [workspaceId]);
  return rows.map((r) => r.name);
}

describe("Gatehouse's own event types cannot be published through the API", () => {
  it.each(FORGED)('POST /events with type %s is a 400 naming the type field, and nothing is stored or sent', async (type) => {
    const ws = await stack.workspace(['admin']);
    const ep = await stack.rest('POST', '/webhooks', { key: ws.secret, body: { url: `${rx.url}/forged` } });
    expect(ep.status).toBe(201);
    const res = await stack.rest('POST', '/events', { key: ws.secret, body: { type, payload: { key_id: 'owner' } } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'reserved_event_type', field: 'type' });
    expect(res.body.error.message).toMatch(/^type: /);
    expect(await storedEvents(ws.workspaceId)).toBe(0);
  });

  it.each(FORGED)('tRPC events.publish with type %s is BAD_REQUEST and stores nothing', async (type) => {
    const ws = await stack.workspace(['admin']);
    const caller = await stack.caller(ws.secret);
    await expect(caller.events.publish({ type, payload: {} })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^type: .* namespace Gatehouse raises events in itself/) });
    expect(await storedEvents(ws.workspaceId)).toBe(0);
  });

  it.each(['key.custom', 'Key.custom', 'usage.mine', 'credits.topped_up', 'webhook.mine', 'WEBHOOK.test'])(
    'registering a custom type %s is refused (REST and tRPC), so it can never be published either',
    async (name) => {
      const ws = await stack.workspace(['admin']);
      const res = await stack.rest('POST', '/event-types', { key: ws.secret, body: { name } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'reserved_event_type', field: 'name' });
      const caller = await stack.caller(ws.secret);
      await expect(caller.eventTypes.create({ name })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^name: /) });
      expect(await customTypes(ws.workspaceId)).toEqual([]);
    },
  );

  it('a custom type registered in a reserved namespace before this rule existed cannot be published', async () => {
    const ws = await stack.workspace(['admin']);
    await stack.orm.em
      .fork()
      .execute(`insert into event_type (id, workspace_id, name, description, created_at) values ('et_legacy', ?, 'key.legacy', '', now())`, [ws.workspaceId]);
    const res = await stack.rest('POST', '/events', { key: ws.secret, body: { type: 'key.legacy', payload: {} } });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('type');
    expect(await storedEvents(ws.workspaceId)).toBe(0);
  });

  it('other types still publish, and Gatehouse still delivers its own key.revoked, signed', async () => {
    const ws = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key: ws.secret, body: { url: `${rx.url}/real`, event_types: ['key.revoked', 'content.approved'] } }))
      .body as { id: string; secret: string };
    expect((await stack.rest('POST', '/events', { key: ws.secret, body: { type: 'content.approved', payload: {} } })).status).toBe(202);
    expect((await stack.rest('POST', '/api-keys', { key: ws.secret, body: { id: 'doomed', permissions: ['read-only'] } })).status).toBe(201);
    expect((await stack.rest('POST', '/api-keys/doomed/revoke', { key: ws.secret })).status).toBe(200);
    const received = await rx.waitFor('/real', 2);
    const types = received.map((r) => (verify(ep.secret, r) as { type: string }).type).sort();
    expect(types).toEqual(['content.approved', 'key.revoked']);
    const revoked = received.find((r) => (verify(ep.secret, r) as { type: string }).type === 'key.revoked')!;
    expect(verify(ep.secret, revoked)).toMatchObject({ data: { key_id: 'doomed' } });
  });
});
