// Child process of `npm run bench -- webhooks`: a worker made by the same createWorker() as the
// production worker (same options), running only the no-op workflow. Each no-op activity reports
// the moment it ran to the parent over IPC, as the bench's receiver notes a webhook's arrival
// (on the same clock: timeOrigin + now(), sub-millisecond).
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../core/config.js';
import { createWorker } from '../temporal/worker.js';

const config = loadConfig();
Runtime.install({ logger: new DefaultLogger('WARN') });
const noopLogger = () => {};
const quiet = { trace: noopLogger, debug: noopLogger, info: noopLogger, warn: noopLogger, error: noopLogger, log: noopLogger };
const bundle = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('./_webhooks-floor-workflows.ts', import.meta.url)),
  logger: quiet,
});
const activities = {
  async noop(n: number): Promise<void> {
    process.send?.([n, performance.timeOrigin + performance.now()]);
  },
};
const { worker, connection } = await createWorker({
  address: config.TEMPORAL_ADDRESS!,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  activities: activities as never,
  bundle,
});
process.send?.('ready');
process.once('disconnect', () => worker.shutdown());
await worker.run();
await connection.close();
