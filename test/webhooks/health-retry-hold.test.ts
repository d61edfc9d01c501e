import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFanout } from '../../core/webhooks/dispatch.js';
import { retryNowSignal } from '../../workflows/delivery.js';
import { startStack, type Stack } from '../harness.js';
import { eventually, Receiver, verify } from './receiver.js';

// Issue #18 items 3–5: endpoint health counted by attempts, "retry now" of a delivery waiting out
// a backoff (replay and recovery), and deliveries held while an endpoint is paused.

let stack: Stack;
let rx: Receiver;
beforeAll(async () => {
  // The first retry after 100 ms, then an hour: a delivery failing twice waits long enough that
  // only "retry now" can deliver it within a test's deadline.
  stack = await startStack({ env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,1h,1h' } });
  rx = await new Receiver().start();
});
afterAll(async () => {
  await rx.close();
  await stack.close();
});

interface Delivery {
  id: string;
  endpoint_id: string;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  attempts: { attempt: number; status_code: number; trigger: string }[];
}

interface Endpoint {
  id: string;
  secret: string;
  status: string;
  attempts_24h: number;
  success_rate_24h: number | null;
  failing_since: string | null;
  health: string;
}

async function endpoint(key: string, path: string, eventTypes = ['product.generated']): Promise<Endpoint> {
  const res = await stack.rest('POST', '/webhooks', { key, body: { url: rx.url + path, event_types: eventTypes } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Endpoint;
}

async function publish(key: string, n: string, type = 'product.generated'): Promise<string> {
  const res = await stack.rest('POST', '/events', { key, body: { type, payload: { n } } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

async function deliveryOf(key: string, eventId: string, endpointId: string, until: (d: Delivery | undefined) => boolean): Promise<Delivery> {
  const d = await eventually(
    async () => ((await stack.rest('GET', `/events/${eventId}/deliveries`, { key })).body.deliveries as Delivery[]).find((x) => x.endpoint_id === endpointId),
    until,
  );
  expect(until(d), JSON.stringify(d)).toBe(true);
  return d!;
}

describe('endpoint health over the last 24 hours, by attempts', () => {
  it('tells a failing endpoint from a flaky and a healthy one, failing first; paused and idle ones say so', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const healthy = await endpoint(key, '/health/ok');
    rx.script('/health/flaky', { status: 500 }, { status: 200 });
    const flaky = await endpoint(key, '/health/flaky');
    rx.script('/health/down', { status: 500 });
    const down = await endpoint(key, '/health/down');
    const idle = await endpoint(key, '/health/idle', ['key.revoked']);
    const paused = await endpoint(key, '/health/paused', ['key.revoked']);
    await stack.rest('PATCH', `/webhooks/${paused.id}`, { key, body: { status: 'paused' } });

    const ev = await publish(key, 'health');
    await deliveryOf(key, ev, healthy.id, (d) => d?.status === 'succeeded');
    await deliveryOf(key, ev, flaky.id, (d) => d?.status === 'succeeded');
    // Two failed attempts, then the hour's wait: still "retrying", which the old figures did not count.
    await deliveryOf(key, ev, down.id, (d) => d?.status === 'retrying' && d.attempt_count === 2);

    const list = await stack.rest('GET', '/webhooks', { key });
    expect(list.status).toBe(200);
    const hooks = list.body.webhooks as Endpoint[];
    expect(hooks[0]!.id, 'failing first').toBe(down.id);
    const byId = new Map(hooks.map((h) => [h.id, h]));
    expect(byId.get(down.id)).toMatchObject({ status: 'active', health: 'failing', attempts_24h: 2, success_rate_24h: 0, failing_since: expect.any(String) });
    expect(byId.get(flaky.id)).toMatchObject({ health: 'healthy', attempts_24h: 2, success_rate_24h: 0.5, failing_since: null });
    expect(byId.get(healthy.id)).toMatchObject({ health: 'healthy', attempts_24h: 1, success_rate_24h: 1, failing_since: null });
    expect(byId.get(idle.id)).toMatchObject({ health: 'no_traffic', attempts_24h: 0, success_rate_24h: null });
    expect(byId.get(paused.id)).toMatchObject({ health: 'paused', status: 'paused' });

    const one = await stack.rest('GET', `/webhooks/${down.id}`, { key });
    expect(one.body).toMatchObject({ health: 'failing', attempts_24h: 2 });
    const caller = await stack.caller(key);
    const viaTrpc = await caller.webhooks.list();
    expect(viaTrpc[0]).toMatchObject({ id: down.id, health: 'failing', attempts24h: 2, successRate24h: 0 });
    expect(viaTrpc[0]!.failingSince).toBeInstanceOf(Date);
  });
});

describe('retry now: a delivery waiting out a backoff', () => {
  it('POST /deliveries/{id}/replay makes the next attempt at once, under the same webhook-id', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/retry/now', { status: 500 }, { status: 503 }, { status: 200 });
    const ep = await endpoint(key, '/retry/now');
    const ev = await publish(key, 'retry-now');
    const waiting = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'retrying' && d.attempt_count === 2);
    // The next attempt is an hour away.
    expect(new Date(waiting.next_attempt_at!).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);

    const replay = await stack.rest('POST', `/deliveries/${waiting.id}/replay`, { key });
    expect(replay.status, JSON.stringify(replay.body)).toBe(202);
    const [, , third] = await rx.waitFor('/retry/now', 3);
    expect(third!.headers['webhook-id']).toBe(ev);
    verify(ep.secret, third!);
    const done = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'succeeded');
    expect(done.id).toBe(waiting.id);
    expect(done.attempts.map((a) => [a.attempt, a.status_code, a.trigger])).toEqual([
      [1, 500, 'scheduled'],
      [2, 503, 'scheduled'],
      [3, 200, 'manual'],
    ]);
  });

  it('when the early attempt fails too, the schedule continues from it', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/retry/again', { status: 500 });
    const ep = await endpoint(key, '/retry/again');
    const ev = await publish(key, 'retry-again');
    const waiting = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'retrying' && d.attempt_count === 2);
    expect((await stack.rest('POST', `/deliveries/${waiting.id}/replay`, { key })).status).toBe(202);
    const after = await deliveryOf(key, ev, ep.id, (d) => d?.attempt_count === 3 && d.status === 'retrying');
    expect(after.attempts[2]).toMatchObject({ attempt: 3, status_code: 500, trigger: 'manual' });
    // The schedule's next step (an hour), not a give-up and not an immediate repeat.
    expect(new Date(after.next_attempt_at!).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(rx.at('/retry/again')).toHaveLength(3);
  });

  it('Recover includes deliveries waiting for a retry and says how many it retried now', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/retry/recover', { status: 500 }, { status: 500 }, { status: 200 });
    const ep = await endpoint(key, '/retry/recover');
    const since = new Date(Date.now() - 60_000).toISOString();
    const ev = await publish(key, 'recover-waiting');
    await deliveryOf(key, ev, ep.id, (d) => d?.status === 'retrying' && d.attempt_count === 2);

    const started = await stack.rest('POST', `/webhooks/${ep.id}/recover`, { key, body: { since } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const progress = await eventually(
      async () => (await stack.rest('GET', `/webhooks/${ep.id}/recover/${started.body.id}`, { key })).body,
      (b) => b.status === 'completed',
    );
    expect(progress).toMatchObject({ status: 'completed', total: 1, replayed: 0, retried_now: 1 });
    await deliveryOf(key, ev, ep.id, (d) => d?.status === 'succeeded');
    expect(rx.at('/retry/recover')).toHaveLength(3);
  });
});

describe('pausing holds deliveries instead of dropping them', () => {
  it('records events published while paused as `paused` deliveries, starts none of them, and delivers them on resume', async () => {
    const { secret: key, workspaceId } = await stack.workspace(['admin']);
    const ep = await endpoint(key, '/held/deliver');
    await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { status: 'paused' } });
    const first = await publish(key, 'held-1');
    const second = await publish(key, 'held-2');
    for (const ev of [first, second]) {
      const d = await deliveryOf(key, ev, ep.id, (x) => x?.status === 'paused');
      expect(d.attempt_count).toBe(0);
      // Nothing left for the outbox sweeper: the event counts as dispatched while its delivery is held.
      expect((await stack.rest('GET', `/events/${ev}`, { key })).body).toMatchObject({ deliveries: 1, dispatched_at: expect.any(String) });
    }
    // The fan-out (the sweeper's path) starts no held delivery.
    await startFanout(stack.temporal, { id: first, workspaceId, type: 'product.generated' });
    expect(await stack.temporal.client.workflow.getHandle(`fanout:${first}`).result()).toEqual({ deliveries: 0, started: 0 });
    expect(rx.at('/held/deliver')).toHaveLength(0);
    const listed = await stack.rest('GET', `/webhooks/${ep.id}/deliveries?status=paused`, { key });
    expect(listed.body.deliveries).toHaveLength(2);

    const resumed = await stack.rest('POST', `/webhooks/${ep.id}/resume`, { key, body: {} });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', held_delivered: 2, held_skipped: 0 });
    const got = await rx.waitFor('/held/deliver', 2);
    expect(got.map((r) => r.headers['webhook-id']).sort()).toEqual([first, second].sort());
    await deliveryOf(key, first, ep.id, (d) => d?.status === 'succeeded');
    await deliveryOf(key, second, ep.id, (d) => d?.status === 'succeeded');
  });

  it('holds a delivery that was waiting for a retry when the endpoint was paused, and sends it on resume', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    rx.script('/held/inflight', { status: 500 }, { status: 500 }, { status: 200 });
    const ep = await endpoint(key, '/held/inflight');
    const ev = await publish(key, 'in-flight');
    const waiting = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'retrying' && d.attempt_count === 2);
    await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { status: 'paused' } });
    // Its next attempt comes while the endpoint is paused (signalled here rather than waiting the hour).
    const handle = stack.temporal.client.workflow.getHandle(`delivery:${ev}:${ep.id}`);
    await handle.signal(retryNowSignal);
    expect(await handle.result()).toMatchObject({ status: 'paused', attempts: 3 });
    const held = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'paused');
    expect(held.attempt_count).toBe(2);
    expect(rx.at('/held/inflight')).toHaveLength(2);

    const resumed = await stack.rest('POST', `/webhooks/${ep.id}/resume`, { key, body: { deliver_held: true } });
    expect(resumed.body).toMatchObject({ held_delivered: 1 });
    const [, , third] = await rx.waitFor('/held/inflight', 3);
    expect(third!.headers['webhook-id']).toBe(ev);
    const done = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'succeeded');
    expect(done.id).toBe(waiting.id);
    expect(done.attempts.map((a) => a.status_code)).toEqual([500, 500, 200]);
  });

  it('skips what was held when asked to (tRPC), and Recover can still send it', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = await endpoint(key, '/held/skip');
    const caller = await stack.caller(key);
    await caller.webhooks.update({ id: ep.id, patch: { status: 'paused' } });
    const ev = await publish(key, 'held-skip');
    await deliveryOf(key, ev, ep.id, (d) => d?.status === 'paused');
    const resumed = await caller.webhooks.resume({ id: ep.id, deliverHeld: false });
    expect(resumed).toMatchObject({ endpoint: { status: 'active' }, delivered: 0, skipped: 1 });
    const skipped = await deliveryOf(key, ev, ep.id, (d) => d?.status === 'skipped');
    expect(skipped.attempt_count).toBe(0);
    expect(rx.at('/held/skip')).toHaveLength(0);

    // A new event after resuming goes out as usual; the skipped one is the recovery's.
    const later = await publish(key, 'after-resume');
    await rx.waitFor('/held/skip', 1);
    await deliveryOf(key, later, ep.id, (d) => d?.status === 'succeeded');
    expect(rx.at('/held/skip').map((r) => r.headers['webhook-id'])).toEqual([later]);
  });

  it('refuses a resume body it does not understand with a 400 naming the field, changing nothing', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const ep = await endpoint(key, '/held/bad');
    await stack.rest('PATCH', `/webhooks/${ep.id}`, { key, body: { status: 'paused' } });
    const res = await stack.rest('POST', `/webhooks/${ep.id}/resume`, { key, body: { deliver_held: 'yes' } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('deliver_held');
    expect((await stack.rest('GET', `/webhooks/${ep.id}`, { key })).body.status).toBe('paused');
  });
});
