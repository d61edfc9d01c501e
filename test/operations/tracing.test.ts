import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { startTracing, type Tracing } from '../../core/tracing/provider.js';
import { expressRoute } from '../../server/trace-route.js';
import { bundleWorkflows, createWorker } from '../../temporal/worker.js';
import { startApi, stopApi } from '../api-process.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey, type TestKey } from '../verify/keys.js';
import { Receiver } from '../webhooks/receiver.js';
import { until } from '../webhooks-durability/helpers.js';

// One process holds the API app, the worker and the receiver, so one in-memory exporter sees every
// span, as a collector would see the API's and the worker's together.
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let stack: Stack;
let rx: Receiver;
let worker: Worker;
let workerRun: Promise<void>;
let closeWorker: () => Promise<void>;
let key: TestKey;
// What must never reach a span: the webhook URL's path and query, the payload, the endpoint's
// signing secret, the keys.
const PATH_TOKEN = `path-${randomBytes(8).toString('hex')}`;
const QUERY_TOKEN = `query-${randomBytes(8).toString('hex')}`;
const PAYLOAD_MARKER = `payload-${randomBytes(8).toString('hex')}`;
let endpointSecret: string;

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'gatehouse-test', exporter, routeOf: expressRoute })!;
  stack = await startStack({ worker: false });
  // The worker bundles its own workflow code: with tracing on, the workflow interceptors go in.
  const created = await createWorker({
    address: stack.config.TEMPORAL_ADDRESS!,
    namespace: stack.config.TEMPORAL_NAMESPACE,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    activities: createActivities({ orm: stack.orm, log: stack.deps.log, config: stack.config, temporal: stack.temporal }),
    bundle: await bundleWorkflows(),
  });
  worker = created.worker;
  workerRun = worker.run();
  closeWorker = async () => {
    worker.shutdown();
    await workerRun;
    await created.connection.close();
  };
  rx = await new Receiver().start();
  key = await insertKey(stack);
}, 180_000);

afterAll(async () => {
  await closeWorker?.();
  await rx?.close();
  await stack?.close();
  await tracing?.shutdown();
});

const spans = () => exporter.getFinishedSpans();
const byId = () => new Map(spans().map((s) => [s.spanContext().spanId, s]));

/** The span's ancestors, itself first, up to the trace's root. */
function lineage(span: ReadableSpan): ReadableSpan[] {
  const index = byId();
  const out = [span];
  for (let s = span; s.parentSpanId; ) {
    const parent = index.get(s.parentSpanId);
    if (!parent) break;
    out.push(parent);
    s = parent;
  }
  return out;
}

it('follows one event from POST /events through its delivery workflow to the attempt POST, in one trace', async () => {
  const url = `${rx.url}/${PATH_TOKEN}?token=${QUERY_TOKEN}`;
  const ep = await stack.rest('POST', '/webhooks', { body: { url, event_types: ['product.generated'] } });
  expect(ep.status, JSON.stringify(ep.body)).toBe(201);
  endpointSecret = ep.body.secret as string;
  const published = await stack.rest('POST', '/events', { body: { type: 'product.generated', payload: { marker: PAYLOAD_MARKER } } });
  expect(published.status).toBe(202);
  await rx.waitFor(`/${PATH_TOKEN}?token=${QUERY_TOKEN}`, 1);

  // The attempt's POST is a client span to the receiver's origin; the workflow spans arrive once it ends.
  const isAttempt = (s: ReadableSpan) => s.kind === 2 && s.attributes['http.url'] === rx.url;
  await until('the attempt span and its workflow', () => spans().some((s) => isAttempt(s) && lineage(s).some((a) => a.name === 'RunWorkflow:deliveryWorkflow')), 30_000);
  const attempt = spans().find(isAttempt)!;
  const chain = lineage(attempt);
  const names = chain.map((s) => s.name);
  const root = chain.at(-1)!;
  expect(root.name, names.join(' <- ')).toBe('POST /events');
  expect(root.kind).toBe(1); // SERVER
  expect(root.parentSpanId).toBeUndefined();
  expect(new Set(chain.map((s) => s.spanContext().traceId)).size).toBe(1);
  // Child to parent: the POST, the activity that made it, the delivery workflow, its start by the API request.
  const order = ['RunActivity:', 'RunWorkflow:deliveryWorkflow', 'StartWorkflow:deliveryWorkflow', 'POST /events'];
  const at = order.map((prefix) => names.findIndex((n) => n.startsWith(prefix)));
  expect(at.every((i) => i > 0) && at.every((i, n) => n === 0 || i > at[n - 1]!), names.join(' <- ')).toBe(true);
  // The request's own queries (the event row) are spans of the same trace.
  expect(spans().some((s) => s.spanContext().traceId === root.spanContext().traceId && String(s.attributes['db.system']) === 'postgresql')).toBe(true);
});

it('traces a verification under its HTTP request, naming the answer code and not the key', async () => {
  const res = await stack.rest('POST', '/v1/keys/verify', { body: { key: key.secret } });
  expect(res.body.valid).toBe(true);
  await until('the verify span', () => spans().some((s) => s.name === 'gatehouse.verify'), 10_000);
  const verify = spans().find((s) => s.name === 'gatehouse.verify')!;
  expect(verify.attributes['gatehouse.verify.code']).toBe('VALID');
  // The request's server span, named for its route although the verify fast path
  // (server/fast-verify.ts) answered it before Express.
  const parent = byId().get(verify.parentSpanId!);
  expect(parent?.kind).toBe(1);
  expect(parent?.name).toBe('POST /v1/keys/verify');
  expect(parent?.attributes['http.route']).toBe('/v1/keys/verify');
});

it('puts no secret, payload, key, signature or URL path and query in any span', async () => {
  const signatures = rx.received.map((r) => String(r.headers['webhook-signature']));
  const forbidden = [PATH_TOKEN, QUERY_TOKEN, PAYLOAD_MARKER, endpointSecret, key.secret, stack.bootstrapKey, ...signatures];
  expect(spans().length).toBeGreaterThan(10);
  for (const s of spans()) {
    const values = [s.name, ...Object.values(s.attributes), ...s.events.flatMap((e) => [e.name, ...Object.values(e.attributes ?? {})])].map((v) => JSON.stringify(v) ?? '');
    for (const v of values) for (const f of forbidden) expect(v.includes(f), `span ${s.name} holds ${f.slice(0, 12)}…: ${v.slice(0, 200)}`).toBe(false);
  }
});

it('an API process with OTEL_EXPORTER_OTLP_ENDPOINT set posts its spans to <endpoint>/v1/traces', async () => {
  const posts: { path: string; type: string; bytes: number }[] = [];
  const collector = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', type: String(req.headers['content-type']), bytes });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const api = await startApi(stack, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}` });
  try {
    const res = await fetch(`${api.url}/v1/keys/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
      body: JSON.stringify({ key: key.secret }),
    });
    expect(res.status).toBe(200);
  } finally {
    // The shutdown flushes the batch of spans still waiting.
    await stopApi(api);
    collector.closeAllConnections();
    await new Promise((r) => collector.close(r));
  }
  expect(api.child.exitCode, api.output.join('')).toBe(0);
  expect(posts.length).toBeGreaterThan(0);
  expect(posts.every((p) => p.path === '/v1/traces' && p.type === 'application/json' && p.bytes > 0), JSON.stringify(posts)).toBe(true);
});
