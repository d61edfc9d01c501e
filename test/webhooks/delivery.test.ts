import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseEvent } from '../../core/events.js';
import { EVENT_CATALOG, type CatalogEventType, type EventPayload } from '../../core/events/catalog.js';
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

/** Gatehouse's own event types cannot be published through the API: raise them as Gatehouse does. */
function raise<T extends CatalogEventType>(type: T, payload: EventPayload<T>) {
  return raiseEvent({ em: stack.orm.em.fork(), temporal: stack.temporal, config: stack.config }, { workspaceId: stack.config.GATEHOUSE_DEFAULT_WORKSPACE, type, payload });
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

  it('stops on 410 Gone, disables the endpoint and raises webhook.endpoint.disabled', async () => {
    rx.script('/gone', { status: 410, body: 'no such hook' });
    const watcher = await endpoint('/watch-410', ['webhook.endpoint.disabled']);
    const ep = await endpoint('/gone', ['content.approved']);
    const pub = await stack.rest('POST', '/events', { body: { type: 'content.approved', payload: { id: 'c1' } } });
    const mine = (ds: Delivery[]) => ds.find((d) => d.endpoint_id === ep.id);
    const ds = await deliveriesOf(pub.body.id, (d) => mine(d)?.status === 'failed');
    expect(mine(ds)!.attempts).toEqual([expect.objectContaining({ status_code: 410, error: 'endpoint answered 410 Gone: endpoint disabled' })]);
    expect(rx.at('/gone')).toHaveLength(1);

    const got = await stack.rest('GET', `/webhooks/${ep.id}`);
    expect(got.body).toMatchObject({ status: 'disabled', disabled_reason: 'The endpoint answered 410 Gone' });
    const [notice] = await rx.waitFor('/watch-410', 1);
    expect(verify(watcher.secret, notice!)).toMatchObject({ type: 'webhook.endpoint.disabled', data: { endpoint_id: ep.id, reason: 'The endpoint answered 410 Gone' } });

    // A disabled endpoint is not fanned out to.
    const again = await stack.rest('POST', '/events', { body: { type: 'content.approved', payload: { id: 'c2' } } });
    expect((await deliveriesOf(again.body.id, () => true)).find((d) => d.endpoint_id === ep.id)).toBeUndefined();
  });

  it('treats a redirect as a failure and never follows it', async () => {
    rx.script('/moved', { status: 301, headers: { location: `${rx.url}/elsewhere` } }, { status: 302, headers: { location: `${rx.url}/elsewhere` } }, { status: 200 });
    const ep = await endpoint('/moved', ['export.completed']);
    const pub = await stack.rest('POST', '/events', { body: { type: 'export.completed', payload: { file: 'a.csv' } } });
    const mine = (ds: Delivery[]) => ds.find((d) => d.endpoint_id === ep.id);
    const ds = await deliveriesOf(pub.body.id, (d) => mine(d)?.status === 'succeeded');
    expect(mine(ds)!.attempts.map((a) => a.status_code)).toEqual([301, 302, 200]);
    expect(mine(ds)!.attempts[0]!.error).toMatch(/redirect \(301\) not followed/);
    expect(rx.at('/elsewhere')).toHaveLength(0);
  });

  it('honours Retry-After, capped at twice the scheduled delay', async () => {
    rx.script('/slow-down', { status: 429, headers: { 'retry-after': '30' } }, { status: 200 });
    const ep = await endpoint('/slow-down', ['usage.monthly_report']);
    await raise('usage.monthly_report', EVENT_CATALOG['usage.monthly_report'].example);
    const reqs = await rx.waitFor('/slow-down', 2);
    const gap = reqs[1]!.at - reqs[0]!.at;
    // Scheduled 100 ms; Retry-After asks 30 s; the cap is 200 ms.
    expect(gap).toBeGreaterThanOrEqual(180);
    expect(gap).toBeLessThan(5_000);
    verify(ep.secret, reqs[1]!);
  });

  it('signs with both secrets during the 24 h overlap of a rotation, then with the new one only', async () => {
    const ep = await endpoint('/rotating', ['key.rotated']);
    const rotated = await stack.rest('POST', `/webhooks/${ep.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(ep.secret);
    const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at);
    expect(overlapEnds - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    expect(overlapEnds - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);

    await raise('key.rotated', { ...EVENT_CATALOG['key.rotated'].example, key_id: 'k1' });
    const [during] = await rx.waitFor('/rotating', 1);
    expect(String(during!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(rotated.body.secret, during!)).toMatchObject({ data: { key_id: 'k1' } });
    expect(verify(ep.secret, during!)).toMatchObject({ data: { key_id: 'k1' } });

    await stack.orm.em.fork().execute(`update webhook_endpoint set previous_secret_expires_at = now() - interval '1 second' where id = ?`, [ep.id]);
    await raise('key.rotated', { ...EVENT_CATALOG['key.rotated'].example, key_id: 'k2' });
    const [, after] = await rx.waitFor('/rotating', 2);
    expect(String(after!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verify(rotated.body.secret, after!)).toMatchObject({ data: { key_id: 'k2' } });
    expect(() => verify(ep.secret, after!)).toThrow();
    expect((await stack.rest('GET', `/webhooks/${ep.id}`)).body.previous_secret_expires_at).toBeNull();
  });

  it('disables an endpoint that has failed every attempt for 5 days', async () => {
    rx.script('/dead', { status: 502 });
    const watcher = await endpoint('/watch-5d', ['webhook.endpoint.disabled']);
    const ep = await endpoint('/dead', ['product.generated']);
    // Its failure streak began six days ago.
    await stack.orm.em.fork().execute(`update webhook_endpoint set first_failure_at = now() - interval '6 days' where id = ?`, [ep.id]);
    await stack.rest('POST', '/events', { body: { type: 'product.generated', payload: { p: 1 } } });
    const [notice] = await rx.waitFor('/watch-5d', 1);
    expect(verify(watcher.secret, notice!)).toMatchObject({ data: { endpoint_id: ep.id, reason: 'Every delivery attempt failed for 5 days' } });
    expect((await stack.rest('GET', `/webhooks/${ep.id}`)).body).toMatchObject({ status: 'disabled' });
  });

  it('does not disable an endpoint whose failures started recently, and a success ends the streak', async () => {
    rx.script('/wobbly', { status: 500 }, { status: 200 });
    const ep = await endpoint('/wobbly', ['credits.low']);
    const pub = await raise('credits.low', EVENT_CATALOG['credits.low'].example);
    await deliveriesOf(pub.id, (d) => d.find((x) => x.endpoint_id === ep.id)?.status === 'succeeded');
    const rows = await stack.orm.em.fork().execute<{ status: string; first_failure_at: Date | null }[]>(
      `select status, first_failure_at from webhook_endpoint where id = ?`,
      [ep.id],
    );
    expect(rows[0]).toEqual({ status: 'active', first_failure_at: null });
  });

  it('sends nothing to a paused endpoint, holds what is published meanwhile, and delivers it on PATCH status active', async () => {
    const ep = await endpoint('/pausable', ['content.published']);
    const paused = await stack.rest('PATCH', `/webhooks/${ep.id}`, { body: { status: 'paused' } });
    expect(paused.body.status).toBe('paused');
    const during = await stack.rest('POST', '/events', { body: { type: 'content.published', payload: { n: 'paused' } } });
    const held = (await deliveriesOf(during.body.id, (ds) => ds.some((d) => d.endpoint_id === ep.id))).find((d) => d.endpoint_id === ep.id);
    expect(held).toMatchObject({ status: 'paused', attempt_count: 0 });
    expect(rx.at('/pausable')).toHaveLength(0);

    expect((await stack.rest('PATCH', `/webhooks/${ep.id}`, { body: { status: 'active' } })).body.status).toBe('active');
    const [req] = await rx.waitFor('/pausable', 1);
    expect(verify(ep.secret, req!)).toMatchObject({ data: { n: 'paused' } });
    await stack.rest('POST', '/events', { body: { type: 'content.published', payload: { n: 'resumed' } } });
    const [, next] = await rx.waitFor('/pausable', 2);
    expect(verify(ep.secret, next!)).toMatchObject({ data: { n: 'resumed' } });
  });
});
