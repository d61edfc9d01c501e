import type { Server, ServerResponse } from 'node:http';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createLogger } from '../core/log.js';
import { bootstrap } from '../core/bootstrap.js';
import { createOrm } from '../db/orm.js';
import { connectTemporal } from '../temporal/client.js';
import { createApp } from './app.js';
import { startDraining } from './health.js';
import { createUsage, type Usage, type UsageDeps } from '../core/usage/index.js';
import { ensureUsagePartitions } from '../core/usage/partitions.js';
import { startKeyVerifier } from '../core/keys/verifier.js';
import { DispatchMarks } from '../core/webhooks/dispatch-marks.js';
import { loadProcessConfig } from '../scripts/process-config.js';
import { onStopSignals } from '../scripts/stop-signals.js';
import { startTracing } from '../core/tracing/provider.js';
import { expressRoute } from './trace-route.js';

export interface ApiProcessOptions {
  /** The usage pipeline; bench/verify.ts swaps in one that records nothing, to price recording. */
  createUsage?: (deps: UsageDeps) => Usage;
}

/** One API process (`npm run api`): config, PostgreSQL, Temporal, bootstrap key, HTTP server, graceful shutdown. */
export async function runApiProcess(opts: ApiProcessOptions = {}): Promise<void> {
  const config = loadProcessConfig('the API process');

  const log = createLogger(config.LOG_LEVEL, 'gatehouse-api');
  // Before the first connection: the Temporal client's interceptors depend on it.
  const tracing = startTracing({
    serviceName: 'gatehouse-api',
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    routeOf: expressRoute,
  });
  const orm = await createOrm(config.DATABASE_URL);
  const temporal = await connectTemporal(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE);
  const { createdSecret } = await bootstrap(orm.em.fork(), config, log);
  if (createdSecret) {
    // Written to the terminal only, never to the log: this is the one time anyone sees it.
    process.stdout.write(
      `\n  First admin key for workspace '${config.GATEHOUSE_DEFAULT_WORKSPACE}' (shown once, store it now):\n\n    ${createdSecret}\n\n`,
    );
  }

  // The days ahead exist before the first record is written (the daily Schedule keeps them ahead).
  const partitions = await ensureUsagePartitions(orm.em.fork(), { cutoff: new Date(Date.now() - config.GATEHOUSE_USAGE_RETENTION_DAYS * 86_400_000) });
  if (partitions.moved > 0) log.warn({ moved: partitions.moved, created: partitions.created }, 'usage records caught by the DEFAULT partition moved into their days');
  const usage = (opts.createUsage ?? createUsage)({ databaseUrl: config.DATABASE_URL, orm, temporal, log });
  const verifier = await startKeyVerifier({
    databaseUrl: config.DATABASE_URL,
    pepper: config.GATEHOUSE_KEY_PEPPER,
    bootstrapKey: config.GATEHOUSE_BOOTSTRAP_KEY,
    log,
  });
  const dispatched = new DispatchMarks({ em: () => orm.em.fork() as EntityManager, log });
  const app = createApp({ config, orm, temporal, log, usage, verifier, dispatched });
  const server: Server = app.listen(config.PORT, config.HOST, () => {
    log.info({ port: config.PORT, host: config.HOST }, 'api listening');
  });

  let draining = false;
  // While draining, each answer closes its connection, so keep-alive clients and balancers open
  // their next one elsewhere instead of reusing a socket this process is about to close.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
  });

  let stopping: Promise<void> | undefined;
  /**
   * Runs once, whatever signals arrive: a terminal's Ctrl-C reaches this process directly and again
   * through `npm start`'s SIGTERM. Readiness turns 503 first and, after GATEHOUSE_DRAIN_SECONDS, the
   * listener closes, in-flight requests finish, buffered usage is written and the pools close.
   */
  function shutdown(signal: string): Promise<void> {
    stopping ??= (async () => {
      log.info({ signal }, 'api shutting down');
      startDraining(app);
      draining = true;
      // Still accepting, /readyz 503: the balancer's time to take this process out of rotation.
      if (config.GATEHOUSE_DRAIN_SECONDS > 0) await new Promise((r) => setTimeout(r, config.GATEHOUSE_DRAIN_SECONDS * 1000));
      // Requests in flight get up to 5 s to finish, so their usage records are taken too.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(resolve, 5_000).unref();
      });
      // Buffered usage records are written before the pool closes (docs/usage.md, "Loss bound").
      await usage.close();
      // Unwritten marks would only cost the outbox sweeper a no-op fan-out each; written, they cost nothing.
      await dispatched.flush();
      await verifier.stop();
      await orm.close();
      await temporal.connection.close();
      await tracing?.shutdown();
      log.info('api stopped');
      process.exit(0);
    })().catch((err: unknown) => {
      log.error({ err }, 'api shutdown failed');
      process.exit(1);
    });
    return stopping;
  }
  onStopSignals(
    (signal) => void shutdown(signal),
    () => {
      log.warn('api: second Ctrl-C, exiting without waiting for the shutdown');
      process.exit(130);
    },
  );
}
