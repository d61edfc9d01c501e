import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseEvent } from '../../core/events.js';
import { CATALOG_EVENT_TYPES, EVENT_CATALOG } from '../../core/events/catalog.js';
import { connectTemporal } from '../../temporal/client.js';
import { scheduleIds } from '../../temporal/workflow-ids.js';
import { outboxSweepWorkflow } from '../../workflows/outbox-sweep.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const rows = await stack.orm.em.fork().execute<{ n: string }[]>(sql, params);
  return Number(rows[0]!.n);
}

describe('POST /events: fan-out', () => {
  it('delivers only to active endpoints subscribed to the type (or to every type), holding deliveries for a paused one', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const mk = async (path: string, event_types?: string[]) =>
      (await stack.rest('POST', '/webhooks', { key, body: { url: rx.url + path, ...(event_types ? { event_types } : {}) } })).body as { id: string; secret: string };
    const subscribed = await mk('/fan/subscribed', ['product.generated', 'key.created']);
    const all = await mk('/fan/all');
    await mk('/fan/other', ['key.revoked']);
    const paused = await mk('/fan/paused', ['product.generated']);
    await stack.rest('PATCH', `/webhooks/${paused.id}`, { key, body: { status: 'paused' } });

    const pub = await stack.rest('POST', '/events', { key, body: { type: 'product.generated', payload: { sku: 'A1' } } });
    expect(pub.status).toBe(202);
    expect(pub.body.deliveries).toBe(3);
    const [a] = await rx.waitFor('/fan/subscribed', 1);
    const [b] = await rx.waitFor('/fan/all', 1);
    verify(subscribed.secret, a!);
    verify(all.secret, b!);
    type Row = { endpoint_id: string; status: string; workflow_id: string };
    const ds = await eventually(
      async () => (await stack.rest('GET', `/events/${pub.body.id}/deliveries`, { key })).body.deliveries as Row[],
      (d) => d.length === 3 && d.every((x) => x.status === (x.endpoint_id === paused.id ? 'paused' : 'succeeded')),
      20_000,
      'two deliveries succeeded and the paused one held',
    );
    expect(ds.map((d) => d.endpoint_id).sort()).toEqual([subscribed.id, all.id, paused.id].sort());
    // The held delivery has no workflow and the others' have ended: nothing more is on its way.
    const workflow = (d: Row) => stack.temporal.client.workflow.getHandle(d.workflow_id);
    await expect(workflow(ds.find((d) => d.endpoint_id === paused.id)!).describe()).rejects.toThrow(/not found/i);
    await Promise.all(ds.filter((d) => d.endpoint_id !== paused.id).map((d) => workflow(d).result()));
    expect(rx.at('/fan/other')).toHaveLength(0);
    expect(rx.at('/fan/paused')).toHaveLength(0);
    const events = await stack.rest('GET', `/events/${pub.body.id}`, { key });
    expect(events.body).toMatchObject({ id: pub.body.id, deliveries: 3, payload: { sku: 'A1' }, source: 'api' });
    await eventually(async () => (await stack.rest('GET', `/events/${pub.body.id}`, { key })).body.dispatched_at, (v) => v !== null);
  });

  it('answers 0 deliveries and starts no workflow when nobody subscribes', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const pub = await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: {} } });
    expect(pub.body.deliveries).toBe(0);
    await expect(stack.temporal.client.workflow.getHandle(`fanout:${pub.body.id}`).describe()).rejects.toThrow(/not found/i);
    expect((await stack.rest('GET', `/events/${pub.body.id}`, { key })).body.dispatched_at).not.toBeNull();
  });

  it('delivers key and usage events raised inside Gatehouse through raiseEvent()', async () => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/internal`, event_types: ['key.created', 'usage.rate_limit.exceeded'] } })).body;
    const em = stack.orm.em.fork();
    const deps = { em, temporal: stack.temporal, log: stack.deps.log };
    const created1 = { key_id: 'k-1', environment: 'live', actor_key_id: null } as const;
    // As the key service does: inside its own transaction.
    const created = await em.transactional((tx) =>
      raiseEvent({ ...deps, em: tx }, { workspaceId, type: 'key.created', payload: created1, idempotencyKey: 'key.created:k-1' }),
    );
    const exceeded = await raiseEvent(deps, {
      workspaceId,
      type: 'usage.rate_limit.exceeded',
      payload: { ...EVENT_CATALOG['usage.rate_limit.exceeded'].example, key_id: 'k-1', limit_name: 'per-minute' },
    });
    expect(created).toMatchObject({ created: true, deliveries: 1 });
    expect(exceeded.deliveries).toBe(1);
    const reqs = await rx.waitFor('/internal', 2);
    const bodies = reqs.map((r) => verify(ep.secret, r) as { type: string });
    expect(bodies.map((b) => b.type).sort()).toEqual(['key.created', 'usage.rate_limit.exceeded']);
    // Gatehouse's own idempotency keys hold: raising the same key again sends nothing new.
    const again = await raiseEvent(deps, { workspaceId, type: 'key.created', payload: created1, idempotencyKey: 'key.created:k-1' });
    expect(again).toMatchObject({ id: created.id, created: false, deliveries: 1 });
  });
});

describe('POST /events: idempotency', () => {
  it('returns the same answer for the same Idempotency-Key and sends nothing new', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/idem`, event_types: ['content.approved'] } });
    const send = () => stack.rest('POST', '/events', { key, headers: { 'idempotency-key': 'order-42' }, body: { type: 'content.approved', payload: { n: 42 } } });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    await rx.waitFor('/idem', 1);
    // One delivery, and its workflow has ended: no second request is on its way.
    const ds = (await stack.rest('GET', `/events/${first.body.id}/deliveries`, { key })).body.deliveries as { workflow_id: string }[];
    expect(ds).toHaveLength(1);
    await stack.temporal.client.workflow.getHandle(ds[0]!.workflow_id).result();
    expect(rx.at('/idem')).toHaveLength(1);
    expect(await count(`select count(*) as n from event where idempotency_key = 'order-42'`)).toBe(1);
  });

  it('keeps keys apart per workspace, and frees a key after 24 hours', async () => {
    const a = await stack.workspace(['admin']);
    const b = await stack.workspace(['admin']);
    const body = { type: 'content.approved', payload: {} };
    const ea = await stack.rest('POST', '/events', { key: a.secret, headers: { 'idempotency-key': 'same' }, body });
    const eb = await stack.rest('POST', '/events', { key: b.secret, headers: { 'idempotency-key': 'same' }, body });
    expect(ea.body.id).not.toBe(eb.body.id);
    await stack.orm.em.fork().execute(`update event set created_at = now() - interval '25 hours' where id = ?`, [ea.body.id]);
    const later = await stack.rest('POST', '/events', { key: a.secret, headers: { 'idempotency-key': 'same' }, body });
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(ea.body.id);
  });
});

describe('POST /events: bad input stores nothing', () => {
  it.each([
    ['an unknown event type', { type: 'no.such.type', payload: {} }, 400, /type: unknown event type 'no.such.type'/],
    ['a malformed type name', { type: 'bad type!', payload: {} }, 400, /^type: /],
    ['a payload that is not an object', { type: 'content.approved', payload: [1, 2] }, 400, /^payload: /],
    ['a missing payload', { type: 'content.approved' }, 400, /^payload: /],
    ['an unexpected field', { type: 'content.approved', payload: {}, extra: 1 }, 400, /extra/],
  ])('refuses %s', async (_what, body, status, message) => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/events', { key, body });
    expect(res.status).toBe(status);
    expect(res.body.error.message).toMatch(message);
    expect(await count(`select count(*) as n from event where workspace_id = ?`, [workspaceId])).toBe(0);
  });

  it('refuses malformed JSON with a JSON 400', async () => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/events', { key, body: '{"type": "content.approved", "payload": {' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_json' });
    expect(await count(`select count(*) as n from event where workspace_id = ?`, [workspaceId])).toBe(0);
  });

  it('refuses a payload over 256 KB with 413, measured on the payload itself', async () => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/events', { key, body: { type: 'content.approved', payload: { blob: 'x'.repeat(256 * 1024) } } });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'payload_too_large', field: 'payload' });
    expect(res.body.error.message).toMatch(/over the 256 KB/);
    // Just under the limit is fine.
    const ok = await stack.rest('POST', '/events', { key, body: { type: 'content.approved', payload: { blob: 'x'.repeat(256 * 1024 - 20) } } });
    expect(ok.status).toBe(202);
    expect(await count(`select count(*) as n from event where workspace_id = ?`, [workspaceId])).toBe(1);
  });

  it('refuses an Idempotency-Key that is too long or has spaces', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/events', { key, headers: { 'idempotency-key': 'has space' }, body: { type: 'content.approved', payload: {} } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field: 'idempotency-key' });
    expect(res.body.error.message).toMatch(/^header idempotency-key: /);
  });
});

describe('custom event types', () => {
  it('registers a type per workspace that can then be subscribed to and published', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const other = await stack.workspace(['admin']);
    const created = await stack.rest('POST', '/event-types', { key, body: { name: 'invoice.paid', description: 'An invoice was paid' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'invoice.paid', built_in: false });
    expect((await stack.rest('POST', '/event-types', { key, body: { name: 'invoice.paid' } })).status).toBe(409);
    // Built-in, and in Gatehouse's own namespace.
    expect((await stack.rest('POST', '/event-types', { key, body: { name: 'key.created' } })).status).toBe(400);
    expect((await stack.rest('POST', '/event-types', { key, body: { name: 'content.published' } })).status).toBe(409);

    const list = (await stack.rest('GET', '/event-types', { key })).body.event_types as { name: string; built_in: boolean }[];
    expect(list.filter((t) => t.built_in)).toHaveLength(CATALOG_EVENT_TYPES.length);
    expect(list.map((t) => t.name)).toContain('invoice.paid');
    expect(list.map((t) => t.name)).toContain('webhook.endpoint.disabled');
    // Invisible to another workspace.
    const theirs = (await stack.rest('GET', '/event-types', { key: other.secret })).body.event_types as { name: string }[];
    expect(theirs.map((t) => t.name)).not.toContain('invoice.paid');
    expect((await stack.rest('POST', '/events', { key: other.secret, body: { type: 'invoice.paid', payload: {} } })).status).toBe(400);

    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/custom`, event_types: ['invoice.paid'] } })).body;
    const pub = await stack.rest('POST', '/events', { key, body: { type: 'invoice.paid', payload: { invoice: 'inv_1' } } });
    expect(pub.body.deliveries).toBe(1);
    const [req] = await rx.waitFor('/custom', 1);
    expect(verify(ep.secret, req!)).toMatchObject({ type: 'invoice.paid', data: { invoice: 'inv_1' } });
  });
});

describe('GET /events', () => {
  it('pages newest first with a cursor and filters by type', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await stack.rest('POST', '/events', { key, body: { type: i % 2 ? 'content.approved' : 'content.published', payload: { i } } })).body.id);
    }
    const p1 = await stack.rest('GET', '/events?limit=2', { key });
    expect(p1.body.events.map((e: { id: string }) => e.id)).toEqual([ids[4], ids[3]]);
    const p2 = await stack.rest('GET', `/events?limit=2&cursor=${p1.body.next_cursor}`, { key });
    const p3 = await stack.rest('GET', `/events?limit=2&cursor=${p2.body.next_cursor}`, { key });
    expect([...p2.body.events, ...p3.body.events].map((e: { id: string }) => e.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(p3.body.next_cursor).toBeNull();
    const filtered = await stack.rest('GET', '/events?type=content.approved', { key });
    expect(filtered.body.events.map((e: { id: string }) => e.id)).toEqual([ids[3], ids[1]]);
    expect((await stack.rest('GET', '/events?cursor=nonsense', { key })).status).toBe(400);
  });

  it("pages an endpoint's deliveries newest first, each with its event's type and its attempts, and filters by status", async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const other = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/paged`, event_types: ['content.published'] } })).body as { id: string };
    const events: string[] = [];
    for (let i = 0; i < 5; i++) events.push((await stack.rest('POST', '/events', { key, body: { type: 'content.published', payload: { i } } })).body.id);
    await rx.waitFor('/paged', 5);
    type Delivery = { event_id: string; event_type: string; status: string; attempts: { attempt: number; status_code: number }[] };
    const all = async (query: string) => {
      const seen: Delivery[] = [];
      let cursor: string | null = null;
      do {
        const res = await stack.rest('GET', `/webhooks/${ep.id}/deliveries?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`, { key });
        expect(res.status).toBe(200);
        seen.push(...(res.body.deliveries as Delivery[]));
        cursor = res.body.next_cursor as string | null;
      } while (cursor);
      return seen;
    };
    await eventually(async () => (await all('&status=succeeded')).length, (n) => n === 5);
    const paged = await all('');
    expect(paged.map((d) => d.event_id)).toEqual([...events].reverse());
    for (const d of paged) expect(d).toMatchObject({ event_type: 'content.published', status: 'succeeded', attempts: [{ attempt: 1, status_code: 200 }] });
    expect(await all('&status=failed')).toEqual([]);
    expect((await stack.rest('GET', '/events?limit=5', { key })).body.events.map((e: { deliveries: number }) => e.deliveries)).toEqual([1, 1, 1, 1, 1]);
    expect((await stack.rest('GET', `/webhooks/${ep.id}/deliveries`, { key: other.secret })).status).toBe(404);
    expect((await stack.rest('GET', `/webhooks/${ep.id}/deliveries?cursor=nonsense`, { key })).status).toBe(400);
  });
});

describe('outbox safety net', () => {
  it('delivers an event whose fan-out could not be started, through the sweeper', async () => {
    const { workspaceId, secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/swept`, event_types: ['export.completed'] } })).body;
    // Temporal unreachable at publish time: a closed connection.
    const down = await connectTemporal(stack.config.TEMPORAL_ADDRESS!, stack.config.TEMPORAL_NAMESPACE, stack.config.TEMPORAL_TASK_QUEUE);
    await down.connection.close();
    const ev = await raiseEvent({ em: stack.orm.em.fork(), temporal: down, log: stack.deps.log }, { workspaceId, type: 'export.completed', payload: { f: 1 } });
    expect(ev).toMatchObject({ created: true, deliveries: 1 });
    // Nothing was started for it, so nothing can have been sent.
    await expect(stack.temporal.client.workflow.getHandle(`delivery:${ev.id}:${ep.id}`).describe()).rejects.toThrow(/not found/i);
    expect(rx.at('/swept')).toHaveLength(0);

    // The sweeper Schedule exists (ensured at worker start-up), and its workflow picks the event up.
    const schedule = await stack.temporal.client.schedule.getHandle(scheduleIds(stack.config).outboxSweep).describe();
    expect(schedule.action.type).toBe('startWorkflow');
    await stack.temporal.client.workflow.execute(outboxSweepWorkflow, {
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
      workflowId: `outbox-sweep-test-${ev.id}`,
      args: [0],
    });
    const [req] = await rx.waitFor('/swept', 1);
    expect(verify(ep.secret, req!)).toMatchObject({ data: { f: 1 } });
  });
});

describe('tRPC: what the UI calls', () => {
  it('creates an endpoint, publishes, and reads the delivery back', async () => {
    const { secret } = await stack.workspace(['admin']);
    const caller = await stack.caller(secret);
    const { endpoint, secret: signing } = await caller.webhooks.create({ url: `${rx.url}/trpc`, eventTypes: ['content.approved'], description: 'UI' });
    expect(endpoint).toMatchObject({ url: `${rx.url}/trpc`, eventTypes: ['content.approved'], status: 'active', description: 'UI' });
    expect((await caller.webhooks.list()).map((e) => e.id)).toEqual([endpoint.id]);
    const event = await caller.events.publish({ type: 'content.approved', payload: { via: 'trpc' }, idempotencyKey: 'ui-1' });
    expect(event.deliveries).toBe(1);
    const [req] = await rx.waitFor('/trpc', 1);
    expect(verify(signing, req!)).toMatchObject({ data: { via: 'trpc' } });
    const ds = await eventually(() => caller.events.deliveries({ id: event.id }), (d) => d[0]?.status === 'succeeded');
    expect(ds[0]).toMatchObject({ endpointId: endpoint.id, attempts: [expect.objectContaining({ statusCode: 200 })] });
    const page = await caller.webhooks.deliveries({ id: endpoint.id });
    expect(page.deliveries.map((d) => d.id)).toEqual([ds[0]!.id]);
    expect((await caller.eventTypes.list()).length).toBeGreaterThanOrEqual(15);
    await expect(caller.webhooks.create({ url: 'http://10.0.0.1/x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller.events.publish({ type: 'nope.nope', payload: {} })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await caller.webhooks.update({ id: endpoint.id, patch: { status: 'paused' } });
    expect((await caller.webhooks.get({ id: endpoint.id })).status).toBe('paused');
    await caller.webhooks.delete({ id: endpoint.id });
    await expect(caller.webhooks.get({ id: endpoint.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
