// `npm run worker`: one Temporal worker process. Needs DATABASE_URL and TEMPORAL_ADDRESS.
import { createLogger } from '../core/log.js';
import { createOrm } from '../db/orm.js';
import { createActivities } from '../activities/index.js';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { bundleWorkflows, createWorker } from './worker.js';
import { connectTemporal } from './client.js';
import { loadProcessConfig } from '../scripts/process-config.js';
import { ensureSchedules } from './schedules.js';

const config = loadProcessConfig('the worker');

const log = createLogger(config.LOG_LEVEL, 'gatehouse-worker');
const sdkLevels: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };
// The SDK's own logger follows LOG_LEVEL too, so `LOG_LEVEL=warn` quiets the whole worker.
Runtime.install({ logger: new DefaultLogger(sdkLevels[config.LOG_LEVEL]) });
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
log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
// The SDK stops polling on SIGINT/SIGTERM and lets running activities finish before run() resolves.
await worker.run();
await orm.close();
await connection.close();
await temporal.connection.close();
log.info('worker stopped');
