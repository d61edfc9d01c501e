import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../core/keys/secret.js';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { freePort } from '../free-port.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey, type TestKey } from '../verify/keys.js';
import { Receiver } from '../webhooks/receiver.js';
import { killWorker, spawnWorker, until, type WorkerProcess } from '../webhooks-durability/helpers.js';
import { scrape, total, type Sample } from './prometheus.js';
import { clearOfWindowEdge } from '../window-edge.js';

const TOKEN = 'metrics-token-for-the-test-0123456789';

// The API and the worker run as their own processes (`npm run api`, `npm run worker`), as in production.
let stack: Stack;
let api: ApiProcess;
let worker: WorkerProcess;
let workerMetrics: string;
let rx: Receiver;
let key: TestKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  rx = await new Receiver().start();
  const port = await freePort();
  workerMetrics = `http://127.0.0.1:${port}/metrics`;
  worker = spawnWorker(stack, { METRICS_PORT: String(port), HOST: '127.0.0.1', GATEHOUSE_METRICS_TOKEN: TOKEN });
  api = await startApi(stack, { GATEHOUSE_METRICS_TOKEN: TOKEN });
  key = await insertKey(stack, { rateLimits: [{ name: 'per-minute', limit: 2, windowSeconds: 60 }] });
}, 120_000);
afterAll(async () => {
  await stopApi(api);
  if (worker) await killWorker(worker, 'SIGTERM');
  await rx?.close();
  await stack?.close();
});

const verify = (secret: string) =>
  fetch(`${api.url}/v1/keys/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
    body: JSON.stringify({ key: secret }),
  }).then(async (r) => ((await r.json()) as { code: string }).code);

/** Label values must be bounded: none may name a key, a secret, an event, a workspace or a URL. */
function expectBoundedLabels(samples: Sample[], secrets: string[]) {
  for (const s of samples) {
    for (const [label, value] of Object.entries(s.labels)) {
      for (const secret of secrets) expect(value, `${s.name}{${label}}`).not.toContain(secret);
      expect(value, `${s.name}{${label}}`).not.toMatch(/:\/\//);
    }
  }
}

describe('GET /metrics', () => {
  it('needs the token when GATEHOUSE_METRICS_TOKEN is set, on the API and on the worker', async () => {
    await until('the worker metrics server', () => fetch(workerMetrics).then(() => true, () => false), 90_000, 100);
    for (const url of [`${api.url}/metrics`, workerMetrics]) {
      expect((await fetch(url)).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status, url).toBe(401);
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, url).toBe(200);
    }
  });

  it("moves the API's series as verifications flow: by code, refusals by scope and kind, request durations by route pattern, usage written", async () => {
    const before = await scrape(`${api.url}/metrics`, TOKEN);
    await clearOfWindowEdge(60);
    const codes = [await verify(key.secret), await verify(key.secret), await verify(key.secret), await verify(generateSecret('gate', 'live'))];
    expect(codes).toEqual(['VALID', 'VALID', 'RATE_LIMITED', 'NOT_FOUND']);
    const read = await fetch(`${api.url}/api-keys/${key.id}`, { headers: { 'x-api-key': stack.bootstrapKey } });
    expect(read.status).toBe(200);

    // Paths a client chooses still give a bounded route: the pattern, a fixed word, never the path.
    expect((await fetch(`${api.url}/api-keys/${key.id}`)).status).toBe(401);
    expect((await fetch(`${api.url}/trpc/no.such.procedure${key.id}`)).status).toBe(404);
    expect((await fetch(`${api.url}/no/such/${key.id}`)).status).toBe(404);

    const after = await scrape(`${api.url}/metrics`, TOKEN);
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(moved('gatehouse_verifications_total', { code: 'VALID' })).toBe(2);
    expect(moved('gatehouse_verifications_total', { code: 'RATE_LIMITED' })).toBe(1);
    expect(moved('gatehouse_verifications_total', { code: 'NOT_FOUND' })).toBe(1);
    expect(moved('gatehouse_limit_refusals_total', { scope: 'key', kind: 'rate_limit' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'POST', route: '/v1/keys/verify', status: '200' })).toBe(4);
    // The route's pattern, never the key id the path held.
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/api-keys/{id}', status: '200' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/api-keys/{id}', status: '401' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '/trpc/(unknown)', status: '404' })).toBe(1);
    expect(moved('gatehouse_http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
    expect(after.some((s) => s.name === 'gatehouse_usage_buffered_records')).toBe(true);
    expect(after.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);

    // The recorder flushes every second: the four verification records get written.
    await until(
      'the usage records to be written',
      async () => total(await scrape(`${api.url}/metrics`, TOKEN), 'gatehouse_usage_records_written_total') - total(before, 'gatehouse_usage_records_written_total') >= 4,
      20_000,
      200,
    );
    const flushed = await scrape(`${api.url}/metrics`, TOKEN);
    expect(total(flushed, 'gatehouse_usage_flush_duration_seconds_count', { result: 'ok' })).toBeGreaterThan(0);
    expectBoundedLabels(flushed, [key.id, key.secret, stack.bootstrapKey, stack.config.GATEHOUSE_DEFAULT_WORKSPACE + '_']);
  });

  it("moves the worker's series as an event is delivered, and carries the Temporal SDK's", async () => {
    const ep = await stack.rest('POST', '/webhooks', { body: { url: `${rx.url}/metrics-ep`, event_types: ['product.generated'] } });
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);
    const before = await scrape(workerMetrics, TOKEN);
    const published = await fetch(`${api.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
      body: JSON.stringify({ type: 'product.generated', payload: { n: 1 } }),
    });
    expect(published.status).toBe(202);
    const eventId = ((await published.json()) as { id: string }).id;
    await until('the receiver to get the event', () => rx.received.some((r) => r.headers['webhook-id'] === eventId), 60_000);

    let after: Sample[] = [];
    await until(
      'the delivery to be counted',
      async () => total((after = await scrape(workerMetrics, TOKEN)), 'gatehouse_webhook_deliveries_total', { status: 'succeeded' }) > total(before, 'gatehouse_webhook_deliveries_total', { status: 'succeeded' }),
      10_000,
      100,
    );
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(moved('gatehouse_webhook_attempt_duration_seconds_count', { status_class: '2xx' })).toBe(1);
    expect(moved('gatehouse_webhook_delivery_lag_seconds_count')).toBe(1);
    expect(after.some((s) => s.name === 'gatehouse_webhook_outbox_backlog_events')).toBe(true);
    expect(after.some((s) => s.name === 'gatehouse_key_rotations_in_grace')).toBe(true);
    // The SDK's own series, merged into the same scrape.
    expect(after.some((s) => s.name.startsWith('temporal_') && s.name.endsWith('_total'))).toBe(true);
    expectBoundedLabels(after, [eventId, ep.body.id as string, ep.body.secret as string, rx.url]);
  });
});
