import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_EVENT_TYPES } from '../../core/events/catalog.js';
import { monthlyRollupWorkflow } from '../../workflows/monthly-rollup.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from '../webhooks/receiver.js';

/**
 * An operator registers an endpoint receiving the provider-level events of every workspace: each
 * customer's event reaches it (signed, through the same delivery workflow), naming its workspace;
 * a customer's own events never do, and no customer sees the operator's endpoint or deliveries.
 */
let stack: Stack;
let rx: Receiver;
let acme: { workspaceId: string; secret: string; keyId: string };
let globex: { workspaceId: string; secret: string; keyId: string };
let operatorEndpoint: { id: string; secret: string };
const operatorWs = () => stack.config.GATEHOUSE_DEFAULT_WORKSPACE;

beforeAll(async () => {
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' } });
  rx = await new Receiver().start();
  acme = await stack.workspace(['admin']);
  globex = await stack.workspace(['admin']);
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

interface Body {
  type: string;
  data: Record<string, unknown>;
}

describe('creating an operator-wide endpoint', () => {
  it("is an operator's: a workspace admin gets 403 over REST and tRPC, and nothing is created", async () => {
    const res = await stack.rest('POST', '/webhooks', { key: acme.secret, body: { url: rx.url + '/nope', all_workspaces: true } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    const caller = await stack.caller(acme.secret);
    await expect(caller.webhooks.create({ url: rx.url + '/nope', allWorkspaces: true })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await stack.rest('GET', '/webhooks', { key: acme.secret })).body.webhooks).toEqual([]);
  });

  it('takes operator event types only: another type is a 400 naming event_types', async () => {
    for (const types of [['product.generated'], ['limits.request.created', 'key.rotated'], []]) {
      const res = await stack.rest('POST', '/webhooks', { body: { url: rx.url + '/nope', all_workspaces: true, event_types: types } });
      expect(res.status, JSON.stringify(types)).toBe(400);
      expect(res.body.error.field).toBe('event_types');
    }
  });

  it('subscribes to every operator event type when it names none', async () => {
    const res = await stack.rest('POST', '/webhooks', { body: { url: rx.url + '/ops', all_workspaces: true } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ all_workspaces: true, event_types: [...OPERATOR_EVENT_TYPES].sort() });
    operatorEndpoint = { id: res.body.id, secret: res.body.secret };
  });

  it('stays an operator\'s: a non-operator key of the operator\'s workspace cannot change, rotate or delete it', async () => {
    const staff = await stack.rest('POST', '/api-keys', { body: { id: 'ops-staff', permissions: ['write'] } });
    expect(staff.status).toBe(201);
    const res = await stack.rest('PATCH', `/webhooks/${operatorEndpoint.id}`, { key: staff.body.api_key, body: { url: rx.url + '/stolen' } });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect((await stack.rest('POST', `/webhooks/${operatorEndpoint.id}/rotate-secret`, { key: staff.body.api_key })).status).toBe(403);
    expect((await stack.rest('DELETE', `/webhooks/${operatorEndpoint.id}`, { key: staff.body.api_key })).status).toBe(403);
    const ops = await stack.rest('GET', `/webhooks/${operatorEndpoint.id}`);
    expect(ops.body).toMatchObject({ url: rx.url + '/ops', status: 'active' });
    const narrowed = await stack.rest('PATCH', `/webhooks/${operatorEndpoint.id}`, { body: { event_types: ['product.generated'] } });
    expect(narrowed.status).toBe(400);
    expect(narrowed.body.error.field).toBe('event_types');
  });
});

describe('delivery', () => {
  it("events of two workspaces reach the operator's endpoint with their workspace_id, signed; a customer's custom event does not", async () => {
    // A custom event first: had it gone to the operator, it would arrive before the ones awaited below.
    await stack.rest('POST', '/event-types', { key: acme.secret, body: { name: 'product.generated' } });
    const custom = await stack.rest('POST', '/events', { key: acme.secret, body: { type: 'product.generated', payload: { product_id: 'p1' } } });
    expect(custom.status, JSON.stringify(custom.body)).toBe(202);

    for (const ws of [acme, globex]) {
      const res = await stack.rest('POST', '/limit-requests', { key: ws.secret, body: { kind: 'workspace_quota', requested_limit: 50_000, reason: `more for ${ws.workspaceId}` } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const got = await rx.waitFor('/ops', 2);
    const bodies = got.map((r) => verify(operatorEndpoint.secret, r) as Body);
    expect(bodies.map((b) => b.type)).toEqual(['limits.request.created', 'limits.request.created']);
    expect(bodies.map((b) => b.data['workspace_id']).sort()).toEqual([acme.workspaceId, globex.workspaceId].sort());
    expect(bodies.map((b) => b.data['reason']).sort()).toEqual([`more for ${acme.workspaceId}`, `more for ${globex.workspaceId}`].sort());

    // A decision reaches it too, from the operator's own queue.
    const [pending] = (await stack.rest('GET', `/limit-requests?status=pending&workspace_id=${acme.workspaceId}`)).body.limit_requests;
    expect((await stack.rest('POST', `/limit-requests/${pending.id}/decline`, { body: { note: 'not now' } })).status).toBe(200);
    const [, , third] = await rx.waitFor('/ops', 3);
    expect(verify(operatorEndpoint.secret, third!)).toMatchObject({ type: 'limits.request.decided', data: { workspace_id: acme.workspaceId, status: 'declined', note: 'not now' } });
    expect(rx.received.filter((r) => r.path === '/ops').map((r) => (JSON.parse(r.body) as Body).type)).not.toContain('product.generated');
  });

  it("the operator lists and reads the deliveries in its own workspace, with the same workflow and search attributes", async () => {
    const list = await eventually(
      async () => (await stack.rest('GET', `/webhooks/${operatorEndpoint.id}/deliveries`)).body.deliveries as { id: string; event_id: string; status: string; workflow_id: string }[],
      (ds) => ds.length === 3 && ds.every((d) => d.status === 'succeeded'),
    );
    expect(list.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const event = await stack.rest('GET', `/events/${list[0]!.event_id}`);
    expect(event.status).toBe(200);
    expect(event.body.payload.workspace_id).not.toBe(operatorWs());
    expect((await stack.rest('GET', `/deliveries/${list[0]!.id}`)).status).toBe(200);
    // The row says succeeded once the attempt is recorded; the workflow upserts its status search
    // attribute after that activity returns, so it is waited for rather than read once.
    const handle = stack.temporal.client.workflow.getHandle(list[0]!.workflow_id);
    const sa = await eventually(
      async () => (await handle.describe()).searchAttributes as Record<string, unknown[]>,
      (attrs) => attrs['GatehouseDeliveryStatus']?.[0] !== 'pending',
      20_000,
      'the delivery status search attribute to leave pending',
    );
    expect(sa['GatehouseWorkspace']).toEqual([operatorWs()]);
    expect(sa['GatehouseEndpoint']).toEqual([operatorEndpoint.id]);
    expect(sa['GatehouseDeliveryStatus']).toEqual(['succeeded']);
  });

  it("no customer sees the operator's endpoint, its events or deliveries", async () => {
    const list = (await stack.rest('GET', `/webhooks/${operatorEndpoint.id}/deliveries`)).body.deliveries as { id: string; event_id: string }[];
    for (const ws of [acme, globex]) {
      expect((await stack.rest('GET', '/webhooks', { key: ws.secret })).body.webhooks).toEqual([]);
      expect((await stack.rest('GET', `/webhooks/${operatorEndpoint.id}`, { key: ws.secret })).status).toBe(404);
      expect((await stack.rest('GET', `/webhooks/${operatorEndpoint.id}/deliveries`, { key: ws.secret })).status).toBe(404);
      for (const d of list) {
        expect((await stack.rest('GET', `/deliveries/${d.id}`, { key: ws.secret })).status).toBe(404);
        expect((await stack.rest('GET', `/events/${d.event_id}`, { key: ws.secret })).status).toBe(404);
      }
      // Its own events are its own: one created (and, for acme, one decided) request, no copies of another's.
      const events = (await stack.rest('GET', '/events?limit=100', { key: ws.secret })).body.events as { id: string; type: string }[];
      expect(events.filter((e) => e.type.startsWith('limits.')).length).toBe(ws === acme ? 2 : 1);
      expect(events.map((e) => e.id)).not.toEqual(expect.arrayContaining(list.map((d) => d.event_id).slice(0, 1)));
    }
  });

  it("each workspace's usage.monthly_report reaches it when the month closes", async () => {
    for (const ws of [acme, globex]) {
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'k', source: 'service', method: 'GET', route: '/r', status: 200, latencyMs: 5, at: new Date('2026-10-05T10:00:00Z') });
    }
    await stack.deps.usage.flush();
    await stack.temporal.client.workflow.execute(monthlyRollupWorkflow, {
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
      workflowId: `ops-rollup:2026-10:${stack.config.TEMPORAL_TASK_QUEUE}`,
      args: [{ month: '2026-10' }],
      workflowExecutionTimeout: '2 minutes',
    });
    const got = await rx.waitFor('/ops', 5);
    const reports = got.map((r) => verify(operatorEndpoint.secret, r) as Body).filter((b) => b.type === 'usage.monthly_report');
    expect(reports.map((b) => b.data['workspace_id']).sort()).toEqual([acme.workspaceId, globex.workspaceId].sort());
    expect(reports.every((b) => b.data['month'] === '2026-10' && b.data['calls'] === 1)).toBe(true);
  });

  it('a paused operator endpoint sends nothing while paused; a disabled one gets no copies', async () => {
    const copiesOf = async (requestId: string) =>
      stack.orm.em
        .fork()
        .execute<{ id: string; deliveries: { status: string }[] | null }[]>(
          `select e.id, (select json_agg(json_build_object('status', d.status)) from webhook_delivery d where d.event_id = e.id) as deliveries
             from event e where e.workspace_id = ? and e.type = 'limits.request.decided' and e.payload->>'request_id' = ?`,
          [operatorWs(), requestId],
        );
    expect((await stack.rest('PATCH', `/webhooks/${operatorEndpoint.id}`, { body: { status: 'paused' } })).status).toBe(200);
    const [pending] = (await stack.rest('GET', `/limit-requests?status=pending&workspace_id=${globex.workspaceId}`)).body.limit_requests;
    expect((await stack.rest('POST', `/limit-requests/${pending.id}/decline`, { body: { note: 'no' } })).status).toBe(200);
    const [copy] = await copiesOf(pending.id);
    // Stored for the operator, and nothing of it is on its way to the paused endpoint.
    expect(copy?.deliveries).toEqual([{ status: 'paused' }]);

    await stack.orm.em.fork().execute(`update webhook_endpoint set status = 'disabled' where id = ?`, [operatorEndpoint.id]);
    const again = await stack.rest('POST', '/limit-requests', { key: globex.secret, body: { kind: 'workspace_quota', requested_limit: 70_000 } });
    expect(again.status).toBe(201);
    expect((await stack.rest('POST', `/limit-requests/${again.body.id}/decline`, { body: { note: 'still no' } })).status).toBe(200);
    expect(await copiesOf(again.body.id)).toEqual([]);
  });
});
