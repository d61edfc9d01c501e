// `npm run bench -- webhooks`: webhook deliveries per second and publish→receipt latency, against
// the engine floor on the same Temporal server.
//   - paced: events published through POST /events at --rate/s (default 50) for --duration s (20);
//     latency = from the request leaving the client to the signed webhook reaching the receiver.
//   - saturation: --events (2000) published as fast as --concurrency (32) requests at a time allow;
//     deliveries/s = events / (last receipt − first publish).
//   - floor: the same two loads as no-op workflows, each running one no-op activity (a bench-only
//     workflow file, bundled for a worker made by the production createWorker()).
// The API (`server/main.ts`) and the worker (`temporal/worker-main.ts`) run as their own processes,
// exactly as `npm run api` / `npm run worker`; the receiver (one endpoint on loopback) and the load
// run in this process. Starts its own PostgreSQL database (on DATABASE_URL's server, or an embedded
// one) and a Temporal dev server unless TEMPORAL_ADDRESS is set.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Webhook } from 'standardwebhooks';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { createOrm, migrate } from '../db/orm.js';
import { stopChild } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';
import { benchDatabase, benchTemporal, Cleanups, option, spawnNode, type NodeChild } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
/** Milliseconds on a clock shared with the child processes (sub-millisecond, unlike Date.now()). */
const now = () => performance.timeOrigin + performance.now();


function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, c: NodeChild | undefined, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (c && c.child.exitCode !== null) throw new Error(`${what}: process exited:\n${c.output.join('')}`);
    if (await ok()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${c ? `\n${c.output.join('').slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Where "arrived" is noted: webhook-id → first receipt time; all requests counted. */
class Arrivals {
  readonly first = new Map<string, number>();
  requests = 0;
  note(id: string, at: number) {
    this.requests++;
    if (!this.first.has(id)) this.first.set(id, at);
  }
}

interface Run {
  sent: Map<string, number>;
  firstSent: number;
  lastSentAt: number;
}

/** Sends `count` items: paced at `rate`/s (open loop), or back to back with `concurrency` in flight. */
async function drive(count: number, send: (i: number) => Promise<string>, opts: { rate?: number; concurrency?: number }): Promise<Run> {
  const sent = new Map<string, number>();
  const firstSent = now();
  const one = async (i: number) => {
    const t = now();
    const id = await send(i);
    sent.set(id, t);
  };
  if (opts.rate) {
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = firstSent + (i * 1000) / opts.rate;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(one(i));
    }
    await Promise.all(inflight);
  } else {
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency ?? 32 }, async () => {
        while (next < count) await one(next++);
      }),
    );
  }
  return { sent, firstSent, lastSentAt: now() };
}

interface Figures {
  n: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  seconds: number;
}

async function settle(what: string, run: Run, arrivals: Map<string, number>, timeoutMs: number): Promise<Figures> {
  await waitUntil(`${what}: every item to arrive`, () => [...run.sent.keys()].every((id) => arrivals.has(id)), undefined, timeoutMs);
  const latencies = [...run.sent].map(([id, t]) => arrivals.get(id)! - t).sort((a, b) => a - b);
  const last = Math.max(...[...run.sent.keys()].map((id) => arrivals.get(id)!));
  const seconds = (last - run.firstSent) / 1000;
  return { n: run.sent.size, perSecond: run.sent.size / seconds, p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99), seconds };
}

const fmt = (f: Figures) =>
  `${f.n} in ${f.seconds.toFixed(1)} s = ${f.perSecond.toFixed(1)}/s; latency p50 ${f.p50.toFixed(1)} ms  p95 ${f.p95.toFixed(1)} ms  p99 ${f.p99.toFixed(1)} ms`;

export async function run(args: string[]): Promise<void> {
  const rate = option(args, 'rate', 50);
  const duration = option(args, 'duration', 20);
  const events = option(args, 'events', 2000);
  const concurrency = option(args, 'concurrency', 32);
  const env = loadConfig();
  const cleanups = new Cleanups();
  try {
    const databaseUrl = await benchDatabase(env, cleanups);
    const temporalAddress = await benchTemporal(env, cleanups);
    const suffix = randomBytes(3).toString('hex');
    const taskQueue = `bench-webhooks-${suffix}`;
    const floorQueue = `bench-floor-${suffix}`;
    const bootstrapKey = `bench-${randomBytes(24).toString('hex')}`;
    const config = loadConfig({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey });
    const orm = await createOrm(databaseUrl, { pool: { min: 0, max: 2 } });
    await migrate(orm);
    await bootstrap(orm.em.fork(), config);
    await orm.close();

    // The receiver: a customer's endpoint on loopback, answering 204 at once.
    const arrivals = new Arrivals();
    const receiver: Server = createServer((req, res) => {
      const at = now();
      req.resume();
      req.on('end', () => {
        arrivals.note(String(req.headers['webhook-id']), at);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cleanups.add(() => new Promise((r) => (receiver.closeAllConnections(), receiver.close(r))));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const common = {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: taskQueue,
      GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
      GATEHOUSE_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    };
    const apiPort = await freePort();
    const api = spawnNode(['server/main.ts'], { ...common, HOST: '127.0.0.1', PORT: String(apiPort), LOG_LEVEL: 'warn' });
    cleanups.add(() => stopChild(api.child));
    const worker = spawnNode(['temporal/worker-main.ts'], { ...common, LOG_LEVEL: 'info' });
    cleanups.add(() => stopChild(worker.child));
    const floorArrivals = new Map<string, number>();
    let floorReady = false;
    const floor = spawnNode(['bench/_webhooks-floor-worker.ts'], { TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_TASK_QUEUE: floorQueue, LOG_LEVEL: 'warn' }, { ipc: true });
    floor.child.on('message', (m: unknown) => {
      if (m === 'ready') floorReady = true;
      else if (Array.isArray(m)) floorArrivals.set(`floor-${m[0] as number}`, m[1] as number);
    });
    cleanups.add(() => stopChild(floor.child));

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitUntil('the API', () => fetch(`${apiUrl}/healthz`).then((r) => r.ok, () => false), api);
    await waitUntil('the worker', () => worker.output.join('').includes('worker running'), worker);
    await waitUntil('the floor worker', () => floorReady, floor);

    const headers = { 'x-api-key': bootstrapKey, 'content-type': 'application/json' };
    const created = await fetch(`${apiUrl}/webhooks`, { method: 'POST', headers, body: JSON.stringify({ url: receiverUrl }) });
    const endpoint = (await created.json()) as { id: string; secret: string };
    if (created.status !== 201) throw new Error(`endpoint not created: ${created.status} ${JSON.stringify(endpoint)}`);

    let seq = 0;
    const publish = async (): Promise<string> => {
      const res = await fetch(`${apiUrl}/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ type: 'product.generated', payload: { product_id: `p-${seq++}`, name: 'Sneaker', price_cents: 12_900 } }),
      });
      const body = (await res.json()) as { id: string; deliveries: number };
      if (res.status !== 202 || body.deliveries !== 1) throw new Error(`publish: ${res.status} ${JSON.stringify(body)}`);
      return body.id;
    };

    // One delivery checked as a customer would: the standardwebhooks package verifies it.
    let sample: { body: string; headers: Record<string, string> } | undefined;
    const probe = (req: import('node:http').IncomingMessage) => {
      if (sample) return;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        sample ??= {
          body: Buffer.concat(chunks).toString(),
          headers: Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(req.headers[h])])),
        };
      });
    };
    receiver.prependListener('request', probe);
    say(
      `webhooks bench: 1 endpoint on loopback, API pid ${api.child.pid}, worker pid ${worker.child.pid}, floor worker pid ${floor.child.pid}; ` +
        `paced ${rate}/s for ${duration} s, saturation ${events} with ${concurrency} in flight`,
    );
    // Warm-up: JIT, pools, workflow caches.
    await settle('warm-up', await drive(100, publish, { concurrency: 8 }), arrivals.first, 60_000);
    receiver.removeListener('request', probe);
    new Webhook(endpoint.secret).verify(sample!.body, sample!.headers);

    const paced = await settle('deliveries, paced', await drive(Math.round(rate * duration), publish, { rate }), arrivals.first, 120_000);
    say(`deliveries at ${rate} events/s: ${fmt(paced)}`);
    const saturated = await settle('deliveries, saturation', await drive(events, publish, { concurrency }), arrivals.first, 600_000);
    say(`deliveries at saturation:  ${fmt(saturated)}`);
    const duplicates = arrivals.requests - arrivals.first.size;

    const connection = await Connection.connect({ address: temporalAddress });
    cleanups.add(() => connection.close());
    const client = new Client({ connection });
    let n = 0;
    const startNoop = async (): Promise<string> => {
      const i = n++;
      await client.workflow.start('noopWorkflow', { workflowId: `floor-${suffix}-${i}`, taskQueue: floorQueue, args: [i] });
      return `floor-${i}`;
    };
    await settle('floor warm-up', await drive(100, startNoop, { concurrency: 8 }), floorArrivals, 60_000);
    const floorPaced = await settle('floor, paced', await drive(Math.round(rate * duration), startNoop, { rate }), floorArrivals, 120_000);
    say(`floor at ${rate} workflows/s:  ${fmt(floorPaced)}`);
    const floorSaturated = await settle('floor, saturation', await drive(events, startNoop, { concurrency }), floorArrivals, 600_000);
    say(`floor at saturation:        ${fmt(floorSaturated)}`);
    if (duplicates) say(`(${duplicates} duplicate webhook request(s) seen)`);

    const r = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
    say(
      JSON.stringify({
        bench: 'webhooks',
        ratio: r(saturated.perSecond / floorSaturated.perSecond, 3),
        deliveries_per_s: r(saturated.perSecond),
        floor_per_s: r(floorSaturated.perSecond),
        p95_ms_at_50: r(paced.p95),
        p50_ms_at_50: r(paced.p50),
        p99_ms_at_50: r(paced.p99),
        floor_p95_ms_at_50: r(floorPaced.p95),
        p95_ms_saturated: r(saturated.p95),
        events_saturated: events,
        rate,
      }),
    );
  } finally {
    await cleanups.run();
  }
}
