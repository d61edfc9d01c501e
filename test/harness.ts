import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import type { EntityManager } from '@mikro-orm/postgresql';
import { inject } from 'vitest';
import { createActivities } from '../activities/index.js';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig, type Config } from '../core/config.js';
import { newId } from '../core/ids.js';
import { generateSecret, hashSecret, maskSecret } from '../core/keys/secret.js';
import { createLogger } from '../core/log.js';
import { createOrm, migrate, type Orm } from '../db/orm.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/postgres.js';
import { createApp } from '../server/app.js';
import { createUsage } from '../core/usage/index.js';
import { startKeyVerifier } from '../core/keys/verifier.js';
import { DispatchMarks } from '../core/webhooks/dispatch-marks.js';
import type { RecorderOptions } from '../core/usage/recorder.js';
import { createContextInner, type ServerDeps } from '../server/context.js';
import { authenticate } from '../server/auth/authenticate.js';
import { appRouter } from '../server/routers/_app.js';
import { createCallerFactory } from '../server/trpc.js';
import { connectTemporal, type TemporalHandle } from '../temporal/client.js';
import { createWorker } from '../temporal/worker.js';
import { ensureSchedules } from '../temporal/schedules.js';

let runtimeInstalled = false;
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed in this fork
  }
}

export interface Stack {
  url: string;
  config: Config;
  orm: Orm;
  temporal: TemporalHandle;
  deps: ServerDeps;
  /** Admin + operator key of the default workspace. */
  bootstrapKey: string;
  databaseUrl: string;
  /** fetch against the running API with x-api-key set; JSON in and out. */
  rest(method: string, path: string, opts?: { key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<RestResult>;
  /** A tRPC caller acting as the key with that secret. */
  caller(secret?: string): Promise<Caller>;
  /** A fresh workspace and a key in it with the given permissions, straight in the database. */
  workspace(permissions?: string[]): Promise<{ workspaceId: string; secret: string; keyId: string }>;
  close(): Promise<void>;
}

const makeCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof makeCaller>;

export interface RestResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

type Activities = ReturnType<typeof createActivities>;

export interface StackOptions {
  /** Run a Temporal worker on this file's own task queue (default true). */
  worker?: boolean;
  /** The worker's activities as a test needs them: one that fails on cue, say. */
  activities?: (made: Activities) => Activities;
  env?: Record<string, string>;
  /** Usage recorder tuning (flush interval, batch size, buffer bound). */
  usage?: Omit<RecorderOptions, 'databaseUrl' | 'log' | 'afterFlush'>;
  /** Run on this existing database (one restored from a dump) instead of a fresh one; migrated, and left in place on close. */
  databaseUrl?: string;
  /**
   * The shared services; by default what test/global-setup.ts provides to Vitest. A script run
   * outside Vitest (test/replay/capture.ts) passes what it started itself.
   */
  services?: Services;
}

export interface Services {
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
}

const CLOSE_STEP_MS = 30_000;

/**
 * One step of closing a stack, failing with its name when it has not finished in 30 s: a hook that
 * hangs otherwise fails after its 120 s as "Hook timed out", naming nothing.
 */
async function step(name: string, run: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stack.close(): ${name} did not finish within ${CLOSE_STEP_MS / 1000} s`)), CLOSE_STEP_MS);
  });
  try {
    await Promise.race([run(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A whole Gatehouse against this file's own database and task queue, on a free port. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  quietRuntime();
  const suffix = randomBytes(5).toString('hex');
  const services: Services = opts.services ?? {
    databaseUrl: inject('databaseUrl'),
    temporalAddress: inject('temporalAddress'),
    workflowBundlePath: inject('workflowBundlePath'),
  };
  const databaseUrl = opts.databaseUrl ?? withDatabase(services.databaseUrl, `gh_test_${suffix}`);
  await ensureDatabase(databaseUrl);
  const bootstrapKey = `bootstrap-${randomBytes(24).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    TEMPORAL_TASK_QUEUE: `test-${suffix}`,
    GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
    GATEHOUSE_EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const log = createLogger(config.LOG_LEVEL);
  const orm = await createOrm(databaseUrl, { pool: { min: 0, max: 20 } });
  await migrate(orm);
  const temporal = await connectTemporal(config.TEMPORAL_ADDRESS!, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE);
  await bootstrap(orm.em.fork(), config, log);
  const usage = createUsage({ databaseUrl, orm, temporal, log, options: opts.usage });
  const verifier = await startKeyVerifier({
    databaseUrl,
    pepper: config.GATEHOUSE_KEY_PEPPER,
    bootstrapKey: config.GATEHOUSE_BOOTSTRAP_KEY,
    log,
  });
  const dispatched = new DispatchMarks({ em: () => orm.em.fork() as EntityManager, log });
  const deps: ServerDeps = { config, orm, temporal, log, usage, verifier, dispatched };

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let workerConnection: { close(): Promise<void> } | undefined;
  let schedules: string[] = [];
  if (opts.worker !== false) {
    const created = await createWorker({
      address: config.TEMPORAL_ADDRESS!,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      activities: (opts.activities ?? ((a) => a))(createActivities({ orm, log, config, temporal })),
      bundle: { codePath: services.workflowBundlePath } as never,
    });
    worker = created.worker;
    workerConnection = created.connection;
    // As temporal/worker-main.ts does at start-up; removed again on close, since they outlive the task queue.
    schedules = await ensureSchedules(temporal.client, config);
    workerRun = worker.run();
  }

  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    config,
    orm,
    temporal,
    deps,
    bootstrapKey,
    databaseUrl,
    async rest(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const key = o.key === undefined ? bootstrapKey : o.key;
      if (key !== null) headers['x-api-key'] = key;
      if (o.body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(url + path, {
        method,
        headers,
        body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text so the assertion shows it
      }
      return { status: res.status, headers: res.headers, body };
    },
    async caller(secret = bootstrapKey) {
      const principal = await authenticate(verifier, secret);
      return makeCaller(createContextInner(deps, principal));
    },
    async workspace(permissions = ['admin']) {
      const workspaceId = `ws-${randomBytes(4).toString('hex')}`;
      const secret = generateSecret('gate', 'live');
      const keyId = 'owner';
      const em = orm.em.fork();
      await em.execute(`insert into workspace (id, name, key_prefix, created_at) values (?, ?, 'gate', now())`, [workspaceId, workspaceId]);
      const pk = newId('kid');
      await em.execute(
        `insert into api_key (client_id, pk, workspace_id, id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
         values ('ci_' || replace(gen_random_uuid()::text, '-', ''), ?, ?, ?, 'test key', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())`,
        [pk, workspaceId, keyId, JSON.stringify(permissions), maskSecret(secret)],
      );
      await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
        hashSecret(secret, config.GATEHOUSE_KEY_PEPPER),
        pk,
        maskSecret(secret),
      ]);
      return { workspaceId, secret, keyId };
    },
    async close() {
      server.closeAllConnections();
      await step('the HTTP server', () => new Promise((r) => server.close(r)));
      await step('the Schedules', async () => {
        for (const id of schedules) await temporal.client.schedule.getHandle(id).delete().catch(() => undefined);
      });
      if (worker) {
        await step('the worker', async () => {
          worker!.shutdown();
          await workerRun;
          await workerConnection?.close();
        });
      }
      await step('the usage recorder', () => usage.close());
      await step('the dispatch marks', () => dispatched.flush());
      await step('the key verifier', () => verifier.stop());
      await step('the Temporal connection', () => temporal.connection.close());
      await step('the ORM', () => orm.close());
      if (!opts.databaseUrl) await step('dropping the database', () => dropDatabase(databaseUrl));
    },
  };
}
