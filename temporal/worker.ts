import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../activities/index.js';
import { activeTracing } from '../core/tracing/provider.js';
import { tracingWorkerOptions, WORKFLOW_TRACING_MODULE } from '../core/tracing/temporal.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * Bundling takes seconds: tests and `npm start` bundle once and hand the code to every worker.
 * With tracing on (core/tracing), the workflow-side tracing interceptors go into the bundle.
 */
export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: quietBundlerLogger,
    ...(activeTracing() && { workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] }),
  });
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/**
 * Workflow tasks a worker holds at once. A delivery attempt is a local activity (workflows/delivery.ts),
 * and its workflow task stays open while it runs, up to the attempt's 15 s: room for the 100 attempts at
 * a time (the SDK's default for local activities) and as many other workflow tasks beside them, where the
 * default of 40 let 40 attempts hanging on one endpoint stop every workflow on the worker
 * (test/webhooks/local-attempts.test.ts). It also bounds the attempts a killed worker leaves to be made
 * again (test/webhooks-durability/worker-kill.test.ts).
 */
export const MAX_WORKFLOW_TASKS = 200;

export interface WorkerOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  bundle?: WorkflowBundleWithSourceMap;
}

export async function createWorker(opts: WorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    maxConcurrentWorkflowTaskExecutions: MAX_WORKFLOW_TASKS,
    ...tracingWorkerOptions(),
    ...(opts.bundle ? { workflowBundle: opts.bundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
  return { worker, connection };
}
