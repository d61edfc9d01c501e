import { spawn } from 'node:child_process';
import type { EntityManager } from '@mikro-orm/postgresql';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typedDb } from '../../db/kysely.js';
import { UsageRecorder } from '../../core/usage/recorder.js';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { freePort } from '../free-port.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey, type TestKey } from '../verify/keys.js';
import { until } from '../webhooks-durability/helpers.js';
import { scrape, total } from './prometheus.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What a crash on the way out prints: a stack frame, or the pool ended twice (issue 15). */
const CRASH = /^\s+at |Called end on pool more than once|Error:/m;

let stack: Stack;
let key: TestKey;
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await insertKey(stack);
});
afterAll(() => stack?.close());

async function verifications(): Promise<number> {
  const row = await typedDb(stack.orm.em.fork() as EntityManager)
    .selectFrom('usage_record')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('source', '=', 'verification')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const verify = (url: string) =>
  fetch(`${url}/v1/keys/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
    body: JSON.stringify({ key: key.secret }),
  }).then((r) => r.status);

/**
 * Verifies until the API reports usage records still in its buffer (it flushes every second), so
 * the stop that follows has something buffered to lose. Returns the calls made.
 */
async function bufferSome(url: string): Promise<number> {
  let calls = 0;
  for (let round = 0; round < 20; round++) {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => verify(url)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    calls += statuses.length;
    if (total(await scrape(`${url}/metrics`), 'gatehouse_usage_buffered_records') > 0) return calls;
  }
  throw new Error('usage was never seen buffered');
}

function exitOf(child: { exitCode: number | null; signalCode: NodeJS.Signals | null; once: (e: 'exit', f: () => void) => unknown }, ms: number): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running ${ms / 1000} s after the signal`)), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve((child.exitCode ?? child.signalCode)!);
    });
  });
}

describe('clean shutdown', () => {
  it('closing the usage recorder twice, at once or one after the other, writes its records once and ends its pool once', async () => {
    const recorder = new UsageRecorder({ databaseUrl: stack.databaseUrl, log: stack.deps.log, flushIntervalMs: 60_000 });
    const before = await verifications();
    recorder.record({ workspaceId: key.workspaceId, keyId: key.id, source: 'verification', method: 'VERIFY', route: '/v1/keys/verify', status: 200, latencyMs: 1, code: 'VALID' });
    await Promise.all([recorder.close(), recorder.close()]);
    await recorder.close();
    expect(await verifications()).toBe(before + 1);
  });

  let api: ApiProcess | undefined;
  afterAll(() => stopApi(api));

  it('an API process given SIGINT and SIGTERM together shuts down once, exits 0 and writes its buffered usage', { timeout: 120_000 }, async () => {
    api = await startApi(stack);
    const before = await verifications();
    const calls = await bufferSome(api.url);
    api.child.kill('SIGINT');
    api.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    expect(await exitOf(api.child, 10_000)).toBe(0);
    expect(api.output.join('')).not.toMatch(CRASH);
    expect(await verifications()).toBe(before + calls);
  });

  it('npm start stops on Ctrl-C to its process group: exit 0, no crash, buffered usage written', { timeout: 300_000 }, async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      // This file's database and Temporal server, so nothing embedded needs to start.
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
      GATEHOUSE_BOOTSTRAP_KEY: stack.bootstrapKey,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
    };
    // Its own process group, as a terminal runs it: the group is what Ctrl-C signals.
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await until('npm start to be ready', () => {
        if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${out}\n${err}`);
        return out.includes('[gatehouse] ready in');
      }, 240_000, 100);
      const url = `http://127.0.0.1:${port}`;
      const before = await verifications();
      const calls = await bufferSome(url);

      process.kill(-child.pid!, 'SIGINT');
      expect(await exitOf(child, 10_000), `${out}\n${err}`).toBe(0);
      expect(err, out).not.toMatch(CRASH);
      expect(out).not.toMatch(CRASH);
      expect(out).toContain('[gatehouse] stopped');
      expect(await verifications()).toBe(before + calls);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  });
});
