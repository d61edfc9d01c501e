import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import type { Stack } from '../harness.js';
import { insertKey } from '../verify/keys.js';
import type { Receiver } from '../webhooks/receiver.js';
import { createEndpoints, killWorker, pool, spawnWorker, until, type WorkerProcess } from '../webhooks-durability/helpers.js';

/**
 * Two API processes and two workers on one PostgreSQL and one Temporal, driven with publishes,
 * usage reports, verifications of a rate-limited key and key rotations; one API process and one
 * worker are SIGKILLed halfway and started again. Shared by test/operations/scale-out.test.ts and
 * `npm run bench -- soak`, which asserts nothing and prints the figures.
 */
export interface ScaleOutPlan {
  events: number;
  endpoints: number;
  /** Usage reports, each of `recordsPerReport` records. */
  reports: number;
  recordsPerReport: number;
  verifications: number;
  rateLimit: number;
  rotations: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Spread the operations evenly over this many seconds (the soak); unset, as fast as `concurrency` allows. */
  seconds?: number;
}

export interface ScaleOutFigures {
  plan: ScaleOutPlan;
  seconds: number;
  operations: number;
  events: { accepted: number; refused: number; missing: string[]; duplicates: number };
  rotations: { started: number; completed: number; notCompleted: string[] };
  rateLimit: { limit: number; allowed: number; refused: number; byProcess: Record<string, number> };
  /** Reported usage records per API process instance: answered 202 vs stored in PostgreSQL. */
  usage: Record<string, { accepted: number; stored: number; acceptedInLastSecondsBeforeKill: number }>;
  killedApi: string;
}

/** The window before the SIGKILL whose usage may be lost: one flush interval plus a batch in flight (docs/usage.md). */
export const LOSS_WINDOW_MS = 3_000;

interface Api {
  label: string;
  proc: ApiProcess;
  alive: boolean;
}

export async function runScaleOut(stack: Stack, rx: Receiver, plan: ScaleOutPlan, log: (msg: string) => void = () => {}): Promise<ScaleOutFigures> {
  const started = performance.now();
  const endpoints = await createEndpoints(stack, rx, plan.endpoints);
  const limited = await insertKey(stack, { rateLimits: [{ name: 'scale-out', limit: plan.rateLimit, windowSeconds: 3600 }] });
  const rotating = await Promise.all(Array.from({ length: plan.rotations }, () => insertKey(stack)));

  const workers: WorkerProcess[] = [spawnWorker(stack), spawnWorker(stack)];
  const apis: Api[] = (await Promise.all([startApi(stack), startApi(stack)])).map((proc, i) => ({ label: `api${i}-run1`, proc, alive: true }));
  log('two API processes and two workers running');

  let turn = 0;
  /** The next live API process, round robin, as a balancer would pick. */
  const pick = () => {
    const live = apis.filter((a) => a.alive);
    return live[turn++ % live.length]!;
  };
  let operations = 0;
  const call = async (api: Api, method: string, path: string, body?: unknown) => {
    operations++;
    const res = await fetch(api.proc.url + path, {
      method,
      headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> | null };
  };

  const accepted: string[] = [];
  let refusedEvents = 0;
  const usage: ScaleOutFigures['usage'] = {};
  const acceptedAt = new Map<string, number[]>();
  const byProcess: Record<string, number> = {};
  let allowed = 0;
  let rateRefused = 0;
  const rotationStarted = new Set<string>();

  // Halfway through the operations: SIGKILL one API process and one worker, then start both again.
  let killedApi = '';
  let killedAt = 0;
  let restart: Promise<void> | undefined;
  const kill = () => {
    const victim = apis[0]!;
    killedApi = victim.label;
    victim.alive = false;
    killedAt = Date.now();
    victim.proc.child.kill('SIGKILL');
    restart = (async () => {
      await killWorker(workers[0]!, 'SIGKILL');
      log(`SIGKILLed ${victim.label} and worker 0 after ${operations} operations`);
      workers[0] = spawnWorker(stack);
      apis[0] = { label: 'api0-run2', proc: await startApi(stack), alive: true };
      log('restarted both');
    })();
  };

  const ops: Record<'event' | 'report' | 'verify' | 'rotate', (i: number) => Promise<void>> = {
    event: async (n) => {
      const r = await call(pick(), 'POST', '/events', { type: 'product.generated', payload: { n } }).catch(() => undefined);
      if (r?.status === 202) accepted.push(r.body!['id'] as string);
      else refusedEvents++;
    },
    report: async () => {
      const api = pick();
      const route = `/scale-out/${api.label}`;
      const records = Array.from({ length: plan.recordsPerReport }, () => ({ key_id: null, method: 'GET', route, status: 200, latency_ms: 1 }));
      const r = await call(api, 'POST', '/v1/usage', { records }).catch(() => undefined);
      const u = (usage[api.label] ??= { accepted: 0, stored: 0, acceptedInLastSecondsBeforeKill: 0 });
      if (r?.status === 202) {
        u.accepted += plan.recordsPerReport;
        acceptedAt.set(api.label, [...(acceptedAt.get(api.label) ?? []), ...Array<number>(plan.recordsPerReport).fill(Date.now())]);
      }
    },
    verify: async () => {
      const api = pick();
      const r = await call(api, 'POST', '/v1/keys/verify', { key: limited.secret }).catch(() => undefined);
      if (r?.status !== 200) return;
      byProcess[api.label] = (byProcess[api.label] ?? 0) + 1;
      if (r.body!['valid'] === true) allowed++;
      else if (r.body!['code'] === 'RATE_LIMITED') rateRefused++;
    },
    rotate: async (i) => {
      const key = rotating[i]!;
      // A client whose request died with its process tries again on the other one; 409 means the first got through.
      for (let tries = 0; tries < 3 && !rotationStarted.has(key.id); tries++) {
        const r = await call(pick(), 'POST', `/api-keys/${key.id}/rotate`, { grace_period_seconds: 2 }).catch(() => undefined);
        if (r?.status === 201 || r?.status === 409) rotationStarted.add(key.id);
      }
    },
  };
  // Every kind spread evenly over the run, so each is in flight when the kill comes.
  const counts = { event: plan.events, report: plan.reports, verify: plan.verifications, rotate: plan.rotations };
  const schedule = (Object.keys(counts) as (keyof typeof counts)[])
    .flatMap((kind) => Array.from({ length: counts[kind] }, (_, i) => ({ kind, i, at: (i + 0.5) / counts[kind] })))
    .sort((a, b) => a.at - b.at);
  const half = Math.floor(schedule.length / 2);
  const loadStart = performance.now();
  const lanes = [
    pool(schedule.length, plan.concurrency, async (n) => {
      // Pacing, not synchronisation: the soak holds its rate for the duration asked for.
      const due = plan.seconds ? loadStart + (n * plan.seconds * 1000) / schedule.length : 0;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      if (n === half) kill();
      const op = schedule[n]!;
      await ops[op.kind](op.i);
    }),
  ];
  await Promise.all(lanes);
  await restart;
  // The restarted API process takes traffic again: what it accepts is delivered like the rest.
  const rejoined = apis[0]!;
  for (let n = 0; n < 5; n++) {
    const r = await call(rejoined, 'POST', '/events', { type: 'product.generated', payload: { n: `rejoined-${n}` } });
    if (r.status !== 202) throw new Error(`the restarted API process answered ${r.status} to POST /events`);
    accepted.push(r.body!['id'] as string);
  }
  log(`load done: ${accepted.length} events accepted; waiting for deliveries and rotations`);

  const expected = new Set(endpoints.flatMap((ep) => accepted.map((id) => `${ep.path} ${id}`)));
  const arrivedPairs = () => new Set(rx.received.map((r) => `${r.path} ${String(r.headers['webhook-id'])}`));
  const missingNow = () => [...expected].filter((k) => !arrivedPairs().has(k));
  // Attempts the killed worker held are made again once their workflow tasks time out (10 s); an attempt gone on as a regular activity, after its 30 s start-to-close timeout.
  await until('every accepted event delivered', () => missingNow().length === 0, 120_000, 250).catch(() => undefined);

  const survivor = apis[1]!;
  const rotationPhase = async (id: string) => (await call(survivor, 'GET', `/api-keys/${id}/rotation`)).body?.['phase'];
  const notCompleted = async () => {
    const out: string[] = [];
    for (const id of rotationStarted) if ((await rotationPhase(id)) !== 'completed') out.push(id);
    return out;
  };
  await until('every rotation completed', async () => (await notCompleted()).length === 0, 60_000, 500).catch(() => undefined);
  const rotationsLeft = await notCompleted();

  // The live processes stop gracefully: their buffered usage is written (docs/usage.md).
  await Promise.all(apis.map((a) => stopApi(a.proc)));
  await Promise.all(workers.map((w) => killWorker(w, 'SIGTERM')));
  const rows = await stack.orm.em
    .fork()
    .execute<{ route: string; n: string }[]>(`select route, count(*) as n from usage_record where source = 'service' and route like '/scale-out/%' group by route`);
  for (const row of rows) {
    const label = row.route.slice('/scale-out/'.length);
    (usage[label] ??= { accepted: 0, stored: 0, acceptedInLastSecondsBeforeKill: 0 }).stored = Number(row.n);
  }
  const killedTimes = acceptedAt.get(killedApi) ?? [];
  const killedUsage = usage[killedApi];
  if (killedUsage) killedUsage.acceptedInLastSecondsBeforeKill = killedTimes.filter((t) => t >= killedAt - LOSS_WINDOW_MS).length;

  const missing = missingNow();
  const requests = rx.received.filter((r) => expected.has(`${r.path} ${String(r.headers['webhook-id'])}`)).length;
  return {
    plan,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    operations,
    events: { accepted: accepted.length, refused: refusedEvents, missing, duplicates: requests - (expected.size - missing.length) },
    rotations: { started: rotationStarted.size, completed: rotationStarted.size - rotationsLeft.length, notCompleted: rotationsLeft },
    rateLimit: { limit: plan.rateLimit, allowed, refused: rateRefused, byProcess },
    usage,
    killedApi,
  };
}
