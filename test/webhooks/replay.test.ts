import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,50ms' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

interface Delivery {
  id: string;
  event_id: string;
  status: string;
  workflow_id: string;
  attempts: { status_code: number; trigger: string }[];
}

async function delivery(id: string, key: string, until: (d: Delivery) => boolean): Promise<Delivery> {
  return eventually(async () => (await stack.rest('GET', `/deliveries/${id}`, { key })).body as Delivery, until);
}

async function failedDeliveries(key: string, endpointId: string, n: number): Promise<Delivery[]> {
  return eventually(
    async () => (await stack.rest('GET', `/webhooks/${endpointId}/deliveries?status=failed`, { key })).body.deliveries as Delivery[],
    (ds) => ds.length === n,
  );
}

describe('POST /deliveries/{id}/replay', () => {
  it('sends a failed delivery again as a new run of the same workflow, first attempt manual', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/replay', { status: 500 });
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/replay`, event_types: ['export.completed'] } })).body;
    const pub = await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: { f: 'r' } } });
    const [failed] = await failedDeliveries(key, ep.id, 1);
    expect(failed!.attempts).toHaveLength(2);
    // The row reads `failed` once the last attempt is recorded; its run ends a moment later (the status
    // upsert, then completion), and a replay before that is refused with 409.
    await stack.temporal.client.workflow.getHandle(failed!.workflow_id).result();
    const firstRun = await stack.temporal.client.workflow.getHandle(failed!.workflow_id).describe();

    rx.script('/replay', { status: 200 });
    const replay = await stack.rest('POST', `/deliveries/${failed!.id}/replay`, { key });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ id: failed!.id, status: 'pending', workflow_id: `delivery:${pub.body.id}:${ep.id}` });
    const done = await delivery(failed!.id, key, (d) => d.status === 'succeeded');
    expect(done.attempts.map((a) => [a.status_code, a.trigger])).toEqual([
      [500, 'scheduled'],
      [500, 'scheduled'],
      [200, 'manual'],
    ]);
    const reqs = rx.at('/replay');
    expect(reqs).toHaveLength(3);
    expect(new Set(reqs.map((r) => r.headers['webhook-id'])).size).toBe(1);
    verify(ep.secret, reqs[2]!);
    const secondRun = await stack.temporal.client.workflow.getHandle(failed!.workflow_id).describe();
    expect(secondRun.runId).not.toBe(firstRun.runId);
  });

  it('refuses to replay a delivery whose first attempt is under way, and to retry now one whose workflow has ended', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/busy', { status: 200 });
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/busy`, event_types: ['export.completed'] } })).body;
    await stack.rest('POST', '/events', { key, body: { type: 'export.completed', payload: {} } });
    const ds = await eventually(
      async () => (await stack.rest('GET', `/webhooks/${ep.id}/deliveries`, { key })).body.deliveries as Delivery[],
      (d) => d[0]?.status === 'succeeded',
    );
    await stack.orm.em.fork().execute(`update webhook_delivery set status = 'pending' where id = ?`, [ds[0]!.id]);
    const res = await stack.rest('POST', `/deliveries/${ds[0]!.id}/replay`, { key });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/still sending it/);
    // "Retrying" in the table but no workflow waiting (it ended): nothing to signal, a 409 rather than a lost request.
    await stack.orm.em.fork().execute(`update webhook_delivery set status = 'retrying' where id = ?`, [ds[0]!.id]);
    const late = await stack.rest('POST', `/deliveries/${ds[0]!.id}/replay`, { key });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/no longer waiting for a retry/);
    expect(rx.at('/busy')).toHaveLength(1);
  });
});

describe('POST /webhooks/{id}/recover', () => {
  it('replays every failed delivery since a date, with readable progress', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/recover', { status: 503 });
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/recover`, event_types: ['content.published'] } })).body;
    for (let i = 0; i < 4; i++) await stack.rest('POST', '/events', { key, body: { type: 'content.published', payload: { i } } });
    const failed = await failedDeliveries(key, ep.id, 4);
    // As above: each run ends a moment after its row reads `failed`, and only an ended run is replayed.
    await Promise.all(failed.map((d) => stack.temporal.client.workflow.getHandle(d.workflow_id).result()));
    // One of them is older than the window asked for.
    const old = failed[3]!;
    await stack.orm.em.fork().execute(`update webhook_delivery set created_at = now() - interval '3 days' where id = ?`, [old.id]);
    const sentBefore = rx.at('/recover').length;

    rx.script('/recover', { status: 200 });
    const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
    const started = await stack.rest('POST', `/webhooks/${ep.id}/recover`, { key, body: { since } });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id: 1, endpoint_id: ep.id, workflow_id: `recover:${ep.id}:1`, status: 'running' });

    const progress = await eventually(
      async () => (await stack.rest('GET', `/webhooks/${ep.id}/recover/1`, { key })).body,
      (p) => p.status === 'completed',
    );
    expect(progress).toMatchObject({ id: 1, status: 'completed', total: 3, replayed: 3, since: expect.stringMatching(/Z$/) });
    expect(Date.parse(progress.since)).toBe(Date.parse(since));

    for (const d of failed.slice(0, 3)) expect((await delivery(d.id, key, (x) => x.status === 'succeeded')).status).toBe('succeeded');
    expect((await stack.rest('GET', `/deliveries/${old.id}`, { key })).body.status).toBe('failed');
    await rx.waitFor('/recover', sentBefore + 3);
    for (const r of rx.at('/recover')) verify(ep.secret, r);

    // The second recovery gets the next number; nothing is left to replay.
    const second = await stack.rest('POST', `/webhooks/${ep.id}/recover`, { key, body: { since } });
    expect(second.body.workflow_id).toBe(`recover:${ep.id}:2`);
    const p2 = await eventually(async () => (await stack.rest('GET', `/webhooks/${ep.id}/recover/2`, { key })).body, (p) => p.status === 'completed');
    expect(p2).toMatchObject({ total: 0, replayed: 0 });
    expect((await stack.rest('GET', `/webhooks/${ep.id}/recover/9`, { key })).status).toBe(404);
  });

  it('refuses a bad date and a future one', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/r2` } })).body;
    const bad = await stack.rest('POST', `/webhooks/${ep.id}/recover`, { key, body: { since: 'yesterday' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: 'since' });
    const future = await stack.rest('POST', `/webhooks/${ep.id}/recover`, { key, body: { since: '2999-01-01T00:00:00Z' } });
    expect(future.status).toBe(400);
  });
});

describe('POST /webhooks/{id}/test', () => {
  it('sends a webhook.test event to that endpoint only', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const target = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/t-target`, event_types: ['key.revoked'] } })).body;
    await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/t-bystander` } });
    const res = await stack.rest('POST', `/webhooks/${target.id}/test`, { key });
    expect(res.status).toBe(202);
    expect(res.body.workflow_id).toBe(`delivery:${res.body.event_id}:${target.id}`);
    const [req] = await rx.waitFor('/t-target', 1);
    expect(verify(target.secret, req!)).toMatchObject({ type: 'webhook.test', data: { endpoint_id: target.id } });
    await delivery(res.body.delivery_id, key, (d) => d.status === 'succeeded');
    // The test event has that one delivery and no other, so the bystander has nothing coming.
    const ds = (await stack.rest('GET', `/events/${res.body.event_id}/deliveries`, { key })).body.deliveries as Delivery[];
    expect(ds.map((d) => d.id)).toEqual([res.body.delivery_id]);
    expect(rx.at('/t-bystander')).toHaveLength(0);
  });

  it('refuses to test a paused endpoint', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/t-paused` } })).body;
    await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { status: 'paused' } });
    const res = await stack.rest('POST', `/webhooks/${ep.id}/test`, { key });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/is paused/);
  });
});

describe('workflow history', () => {
  it('never holds the payload or a signing secret: ids and small status objects only', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/history', { status: 500 }, { status: 200 });
    const ep = (await stack.rest('POST', '/webhooks', { key, body: { url: `${rx.url}/history`, event_types: ['ai.generation.completed'] } })).body;
    const rotated = (await stack.rest('POST', `/webhooks/${ep.id}/rotate-secret`, { key })).body;
    const marker = 'PAYLOAD-MARKER-7f3a9c';
    const pub = await stack.rest('POST', '/events', { key, body: { type: 'ai.generation.completed', payload: { text: marker } } });
    const d = await eventually(
      async () => (await stack.rest('GET', `/events/${pub.body.id}/deliveries`, { key })).body.deliveries[0] as Delivery | undefined,
      (x) => x?.status === 'succeeded',
    );
    // A small fan-out starts its delivery workflow straight from the API; a fan-out workflow, when
    // one ran (large fan-outs, the sweeper), is checked too.
    const fanout = await stack.temporal.client.workflow
      .getHandle(`fanout:${pub.body.id}`)
      .describe()
      .then(() => [`fanout:${pub.body.id}`], () => []);
    const histories = await Promise.all(
      [d!.workflow_id, ...fanout].map(async (id) => {
        const handle = stack.temporal.client.workflow.getHandle(id);
        await handle.result();
        return JSON.stringify(await handle.fetchHistory());
      }),
    );
    for (const h of histories) {
      // Every payload in history, decoded from base64, beside the raw history itself.
      const decoded = [...h.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
      expect(decoded.length).toBeGreaterThan(0);
      for (const text of [h, decoded]) {
        expect(text).not.toContain(marker);
        for (const s of [ep.secret, rotated.secret]) expect(text).not.toContain(s.slice(6));
      }
      expect(decoded).not.toMatch(/whsec_|"payload"|"text"/);
    }
    // What history does carry: the delivery id, the status, the delay.
    const decodedDelivery = [...histories[0]!.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
    expect(decodedDelivery.some((t) => t.includes(d!.id))).toBe(true);
    expect(decodedDelivery).toContain('{"status":"succeeded"}');
  });
});
