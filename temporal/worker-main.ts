// `npm run worker`: one Temporal worker process. Needs DATABASE_URL and TEMPORAL_ADDRESS.
import { createLogger } from '../core/log.js';
import { createOrm } from '../db/orm.js';
import { createActivities } from '../activities/index.js';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { bundleWorkflows, createWorker } from './worker.js';
import { connectTemporal } from './client.js';
import { loadProcessConfig } from '../scripts/process-config.js';
import { fail } from '../scripts/fail.js';
import { ensureSchedules } from './schedules.js';
import type { Server } from 'node:http';
import { createRegistry } from '../core/metrics/registry.js';
import { observeWebhookAttempts } from '../core/metrics/webhooks.js';
import { observeBacklog } from '../core/metrics/backlog.js';
import { freeLoopbackPort, startWorkerMetricsServer } from '../core/metrics/worker-server.js';
import { startTracing } from '../core/tracing/provider.js';

const config = loadProcessConfig('the worker');

const log = createLogger(config.LOG_LEVEL, 'gatehouse-worker');
const sdkLevels: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };
// The SDK's own metrics go to a loopback port of their own, appended to each scrape of METRICS_PORT.
const sdkMetricsPort = config.METRICS_PORT ? await freeLoopbackPort() : undefined;
// The SDK's own logger follows LOG_LEVEL too, so `LOG_LEVEL=warn` quiets the whole worker.
Runtime.install({
  logger: new DefaultLogger(sdkLevels[config.LOG_LEVEL]),
  ...(sdkMetricsPort && {
    telemetryOptions: {
      // Prometheus conventions: `_total` counters, units in names, seconds.
      metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
    },
  }),
});
// Before the bundle, the client and the worker are made: each takes its tracing parts from it.
const tracing = startTracing({ serviceName: 'gatehouse-worker', endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
const orm = await createOrm(config.DATABASE_URL);
const temporal = await connectTemporal(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE);
const { worker, connection } = await createWorker({
  address: config.TEMPORAL_ADDRESS,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  activities: createActivities({ orm, log, config, temporal }),
  bundle: await bundleWorkflows(),
});
log.info({ schedules: await ensureSchedules(temporal.client, config) }, 'schedules ensured');
let metricsServer: Server | undefined;
let stopObserving: (() => void) | undefined;
if (config.METRICS_PORT) {
  const registry = createRegistry();
  stopObserving = observeWebhookAttempts(registry);
  observeBacklog(orm, registry, log);
  metricsServer = await startWorkerMetricsServer({
    registry,
    host: config.HOST,
    port: config.METRICS_PORT,
    token: config.GATEHOUSE_METRICS_TOKEN,
    log,
    temporalUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
  }).catch((err: NodeJS.ErrnoException) =>
    fail(err.code === 'EADDRINUSE' ? `METRICS_PORT ${config.METRICS_PORT} is already in use on ${config.HOST}: set METRICS_PORT to a free port` : `worker metrics: ${err.message}`),
  );
  log.info({ port: config.METRICS_PORT, host: config.HOST }, 'worker metrics listening');
}
log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
// The SDK stops polling on SIGINT/SIGTERM (once, however many arrive) and lets running activities
// finish before run() resolves.
await worker.run();
stopObserving?.();
await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
await orm.close();
await connection.close();
await temporal.connection.close();
await tracing?.shutdown();
log.info('worker stopped');
