import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { createLogger } from '../../core/log.js';
import type { Stack } from '../harness.js';
import { verify, type Received, type Receiver } from '../webhooks/receiver.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Figures a durability run reports (duplicates, outage answers) go to the test output, never to a file. */
export const report = createLogger('info', 'webhooks-durability');

/** Fast retries: a failed attempt is tried again 100 ms later, twice. */
export const FAST_RETRIES = '0,100ms,100ms';

export interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  /** Resolves once the process has exited (for any reason). */
  exited: Promise<void>;
}

/**
 * `node --import tsx temporal/worker-main.ts`, exactly as `npm run worker` runs it, on the stack's
 * database and task queue; only what the worker needs is passed in its environment.
 */
export function spawnWorker(stack: Stack, extraEnv: Record<string, string> = {}): WorkerProcess {
  const output: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'temporal/worker-main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS!,
      TEMPORAL_NAMESPACE: stack.config.TEMPORAL_NAMESPACE,
      TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
      GATEHOUSE_EGRESS_ALLOW_CIDRS: stack.config.GATEHOUSE_EGRESS_ALLOW_CIDRS,
      GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: stack.config.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE ?? FAST_RETRIES,
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output, exited };
}

export async function killWorker(w: WorkerProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  await w.exited;
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function createEndpoints(stack: Stack, rx: Receiver, n: number): Promise<{ id: string; secret: string; path: string }[]> {
  const out: { id: string; secret: string; path: string }[] = [];
  for (let i = 0; i < n; i++) {
    const path = `/ep-${i}`;
    const res = await stack.rest('POST', '/webhooks', { body: { url: rx.url + path, event_types: ['product.generated'] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    out.push({ id: res.body.id as string, secret: res.body.secret as string, path });
  }
  return out;
}

export interface PublishResult {
  status: number;
  id?: string;
  ms: number;
  body: unknown;
}

export async function publish(stack: Stack, n: number): Promise<PublishResult> {
  const t = performance.now();
  const res = await stack.rest('POST', '/events', { body: { type: 'product.generated', payload: { n } } });
  return { status: res.status, id: res.body?.id as string | undefined, ms: performance.now() - t, body: res.body };
}

/** Runs `fn` over 0..count-1 with at most `concurrency` at a time, results in order. */
export async function pool<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

/** Delivery rows by status, from PostgreSQL. */
export async function deliveryStatuses(stack: Stack): Promise<Record<string, number>> {
  const rows = await stack.orm.em.fork().execute<{ status: string; n: string }[]>(`select status, count(*) as n from webhook_delivery group by status`);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Distinct (endpoint, webhook-id) pairs the receiver has seen: deliveries that arrived at least once. */
export function arrived(rx: Receiver): number {
  return new Set(rx.received.map((r) => `${r.path} ${String(r.headers['webhook-id'])}`)).size;
}

export interface Tally {
  requests: number;
  distinct: number;
  duplicates: number;
  /** The most copies any one delivery arrived in. */
  maxCopies: number;
  /** Events with a delivery that arrived more than once. */
  duplicatedEvents: string[];
}

/**
 * Checks every request the receiver got, as a customer would: the signature verifies with the
 * endpoint's secret, and every copy of one delivery carries the same webhook-id and the same body.
 * Each expected (endpoint, event) pair must have arrived.
 */
export function tally(rx: Receiver, endpoints: { secret: string; path: string }[], eventIds: string[]): Tally {
  const secretOf = new Map(endpoints.map((e) => [e.path, e.secret]));
  const copies = new Map<string, Received[]>();
  for (const r of rx.received) {
    const secret = secretOf.get(r.path);
    expect(secret, `request to an unknown path ${r.path}`).toBeDefined();
    verify(secret!, r);
    const key = `${r.path} ${String(r.headers['webhook-id'])}`;
    copies.set(key, [...(copies.get(key) ?? []), r]);
  }
  const missing: string[] = [];
  for (const ep of endpoints) for (const id of eventIds) if (!copies.has(`${ep.path} ${id}`)) missing.push(`${ep.path} ${id}`);
  expect(missing, `deliveries that never arrived: ${missing.slice(0, 5).join(', ')}`).toEqual([]);
  for (const [key, rs] of copies) {
    expect(new Set(rs.map((r) => r.body)).size, `${key}: copies differ in body`).toBe(1);
  }
  expect(copies.size, 'requests for events nobody published').toBe(endpoints.length * eventIds.length);
  const duplicated = [...copies].filter(([, rs]) => rs.length > 1);
  return {
    requests: rx.received.length,
    distinct: copies.size,
    duplicates: rx.received.length - copies.size,
    maxCopies: Math.max(0, ...[...copies.values()].map((rs) => rs.length)),
    duplicatedEvents: [...new Set(duplicated.map(([, rs]) => String(rs[0]!.headers['webhook-id'])))],
  };
}
