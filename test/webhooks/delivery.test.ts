import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  // Retries in milliseconds: four attempts, 100 ms apart.
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms,100ms' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

async function endpoint(path: string, eventTypes?: string[] | null, key?: string) {
  const res = await stack.rest('POST', '/webhooks', { key, body: { url: rx.url + path, ...(eventTypes !== undefined ? { event_types: eventTypes } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; url: string };
}

interface Delivery {
  id: string;
  endpoint_id: string;
  status: string;
  workflow_id: string;
  attempt_count: number;
  attempts: { attempt: number; status_code: number; trigger: string; response: string; error: string | null }[];
}

async function deliveriesOf(eventId: string, until: (d: Delivery[]) => boolean, key?: string) {
  return eventually(
    async () => (await stack.rest('GET', `/events/${eventId}/deliveries`, { key })).body.deliveries as Delivery[],
    (ds) => Array.isArray(ds) && until(ds),
  );
}

describe('create endpoint → publish → a signed delivery', () => {
  it('delivers a Standard Webhooks request that the standardwebhooks package verifies, and records the attempt', async () => {
    const ep = await endpoint('/happy', ['product.generated']);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(ep.id).toMatch(/^ep_/);

    const pub = await stack.rest('POST', '/events', { body: { type: 'product.generated', payload: { product_id: 'p1', name: 'Sneaker' } } });
    expect(pub.status).toBe(202);
    expect(pub.body).toMatchObject({ id: expect.stringMatching(/^msg_/), type: 'product.generated', deliveries: 1 });

    const [req] = await rx.waitFor('/happy', 1);
    const body = verify(ep.secret, req!) as { type: string; data: unknown };
    expect(body).toMatchObject({ type: 'product.generated', data: { product_id: 'p1', name: 'Sneaker' } });
    expect(req!.headers['webhook-id']).toBe(pub.body.id);
    expect(req!.headers['content-type']).toBe('application/json');

    const ds = await deliveriesOf(pub.body.id, (d) => d[0]?.status === 'succeeded');
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({
      endpoint_id: ep.id,
      status: 'succeeded',
      workflow_id: `delivery:${pub.body.id}:${ep.id}`,
      attempts: [{ attempt: 1, status_code: 200, trigger: 'scheduled', response: 'ok', error: null }],
    });
    expect(ds[0]!.id).toMatch(/^dlv_/);

    const handle = stack.temporal.client.workflow.getHandle(ds[0]!.workflow_id);
    expect(await handle.result()).toEqual({ deliveryId: ds[0]!.id, status: 'succeeded', attempts: 1 });
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
    const sa = described.searchAttributes as Record<string, unknown[]>;
    expect(sa['GatehouseDeliveryStatus']).toEqual(['succeeded']);
    expect(sa['GatehouseEndpoint']).toEqual([ep.id]);
    expect(sa['GatehouseEventType']).toEqual(['product.generated']);
    expect(sa['GatehouseWorkspace']).toEqual(['default']);
  });

  it('retries a 500 on the schedule until the endpoint answers 2xx, with the same webhook-id and body', async () => {
    const url = rx.script('/flaky', { status: 500, body: 'boom' }, { status: 503, body: 'busy' }, { status: 204 });
    const ep = await endpoint('/flaky', null);
    expect(url).toBe(ep.url);
    const pub = await stack.rest('POST', '/events', { body: { type: 'content.published', payload: { n: 1 } } });
    const reqs = await rx.waitFor('/flaky', 3);
    for (const r of reqs) verify(ep.secret, r);
    expect(new Set(reqs.map((r) => r.headers['webhook-id']))).toEqual(new Set([pub.body.id]));
    expect(new Set(reqs.map((r) => r.body)).size).toBe(1);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(70);

    const ds = await deliveriesOf(pub.body.id, (d) => d[0]?.status === 'succeeded');
    expect(ds[0]!.attempts.map((a) => a.status_code)).toEqual([500, 503, 204]);
    expect(ds[0]!.attempts[0]).toMatchObject({ response: 'boom', error: 'endpoint answered 500' });
    expect(ds[0]!.attempt_count).toBe(3);
  });

  it('marks a delivery failed once the schedule is spent', async () => {
    rx.script('/down', { status: 500 });
    const ep = await endpoint('/down', ['export.completed']);
    const pub = await stack.rest('POST', '/events', { body: { type: 'export.completed', payload: {} } });
    const mine = (ds: Delivery[]) => ds.find((d) => d.endpoint_id === ep.id);
    const ds = await deliveriesOf(pub.body.id, (d) => mine(d)?.status === 'failed');
    expect(mine(ds)!.status).toBe('failed');
    expect(mine(ds)!.attempts).toHaveLength(4);
    const handle = stack.temporal.client.workflow.getHandle(mine(ds)!.workflow_id);
    await handle.result();
    const sa = (await handle.describe()).searchAttributes as Record<string, unknown[]>;
    expect(sa['GatehouseDeliveryStatus']).toEqual(['failed']);
  });
});
