// What every benchmark starts before measuring: a fresh PostgreSQL database and a Temporal server,
// each torn down again by the bench's Cleanups.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config.js';
import { dropDatabase, ensureDatabase, startEmbeddedPostgres, withDatabase } from '../db/postgres.js';
import { startTemporalDevServer } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';

/** `--name <positive number>` from the bench's arguments. */
export function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
  return v;
}

/** Teardown steps, run last-in first-out; one failing does not stop the others. */
export class Cleanups {
  private readonly steps: (() => Promise<unknown>)[] = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch(() => {});
  }
}

/** A database of its own: on DATABASE_URL's server when set (dropped afterwards), else on an embedded server. */
export async function benchDatabase(env: Pick<Config, 'DATABASE_URL'>, cleanups: Cleanups): Promise<string> {
  if (env.DATABASE_URL) {
    const url = withDatabase(env.DATABASE_URL, `gh_bench_${randomBytes(4).toString('hex')}`);
    await ensureDatabase(url);
    cleanups.add(() => dropDatabase(url));
    return url;
  }
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  cleanups.add(() => rm(dir, { recursive: true, force: true }));
  // mkdtemp makes it 0700; the embedded server runs as its own `postgres` user, which must get in.
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres(join(dir, 'postgres'), await freePort());
  cleanups.add(() => pg.stop());
  return pg.url;
}

/** TEMPORAL_ADDRESS when set, else a dev server of the bench's own. */
export async function benchTemporal(env: Pick<Config, 'TEMPORAL_ADDRESS'>, cleanups: Cleanups): Promise<string> {
  if (env.TEMPORAL_ADDRESS) return env.TEMPORAL_ADDRESS;
  const temporal = await startTemporalDevServer({ port: await freePort() });
  cleanups.add(() => temporal.stop());
  return temporal.address;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A child Node process and everything it printed, for the error message when it dies. */
export interface NodeChild {
  child: ChildProcess;
  output: string[];
}

/**
 * `node --import tsx <args>` from the project root, as the npm scripts run it, with only PATH,
 * HOME, NODE_ENV=production and `env` in its environment. `prefix` wraps the command (taskset),
 * `ipc` opens a message channel to it.
 */
export function spawnNode(args: string[], env: Record<string, string>, opts: { nodeFlags?: string[]; prefix?: string[]; ipc?: boolean } = {}): NodeChild {
  const output: string[] = [];
  const command = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeFlags ?? []), '--import', 'tsx', ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
  });
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return { child, output };
}
