import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { TemporalHandle } from '../../temporal/client.js';
import { SA } from '../../temporal/search-attributes.js';
import type { deliveryWorkflow } from '../../workflows/delivery.js';
import type { fanoutWorkflow } from '../../workflows/fanout.js';
import type { Logger } from '../log.js';
import type { DeliveryInput } from './attempt.js';

export const fanoutWorkflowId = (eventId: string) => `fanout:${eventId}`;
export const deliveryWorkflowId = (eventId: string, endpointId: string) => `delivery:${eventId}:${endpointId}`;
export const recoveryWorkflowId = (endpointId: string, n: number) => `recover:${endpointId}:${n}`;
export const outboxSweepScheduleId = (taskQueue: string) => `outbox-sweep:${taskQueue}`;

export interface EventRef {
  id: string;
  workspaceId: string;
  type: string;
}

/** Starts `fanout:<eventId>`; a second start of the same event is a no-op (the first one delivers). */
export async function startFanout(temporal: TemporalHandle, event: EventRef): Promise<void> {
  try {
    await temporal.client.workflow.start<typeof fanoutWorkflow>('fanoutWorkflow', {
      workflowId: fanoutWorkflowId(event.id),
      taskQueue: temporal.taskQueue,
      args: [event.id],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: SA.workspace, value: event.workspaceId },
        { key: SA.eventType, value: event.type },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

export interface DeliveryRef {
  deliveryId: string;
  eventId: string;
  endpointId: string;
  workspaceId: string;
  eventType: string;
}

/**
 * Starts the delivery's workflow. `first` (fan-out) never starts a second run for a delivery whose
 * workflow already ran; a replay (`manual`) starts a new run of the same workflow id once the
 * previous one has closed. Returns false when a run was already there.
 */
export async function startDeliveryWorkflow(
  temporal: TemporalHandle,
  d: DeliveryRef,
  opts: { trigger: 'scheduled' | 'manual'; scheduleMs: number[]; attemptTimeoutMs: number },
): Promise<boolean> {
  const input: DeliveryInput = {
    deliveryId: d.deliveryId,
    trigger: opts.trigger,
    scheduleMs: opts.scheduleMs,
    attemptTimeoutMs: opts.attemptTimeoutMs,
  };
  try {
    await temporal.client.workflow.start<typeof deliveryWorkflow>('deliveryWorkflow', {
      workflowId: deliveryWorkflowId(d.eventId, d.endpointId),
      taskQueue: temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: opts.trigger === 'manual' ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SA.workspace, value: d.workspaceId },
        { key: SA.eventType, value: d.eventType },
        { key: SA.endpoint, value: d.endpointId },
        { key: SA.deliveryStatus, value: 'pending' },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

const sweepersEnsured = new WeakMap<TemporalHandle, Promise<boolean>>();

/**
 * The outbox safety net: a Temporal Schedule that runs `outboxSweepWorkflow` every minute (skipping
 * while one runs). Ensured once per process (by the worker at start-up and on the first event
 * raised); safe from any number of processes. Resolves false, and forgets the attempt so the next
 * call tries again, when Temporal could not be reached.
 */
export function ensureOutboxSweeper(temporal: TemporalHandle, log?: Logger): Promise<boolean> {
  let ensured = sweepersEnsured.get(temporal);
  if (!ensured) {
    ensured = createSweeper(temporal).then(
      () => true,
      (err: unknown) => {
        sweepersEnsured.delete(temporal);
        log?.warn({ err }, 'outbox sweeper schedule not created yet; will retry');
        return false;
      },
    );
    sweepersEnsured.set(temporal, ensured);
  }
  return ensured;
}

/** Keeps trying in the background until the Schedule exists; for a worker's start-up. */
export function ensureOutboxSweeperInBackground(temporal: TemporalHandle, log?: Logger, retryMs = 30_000): void {
  void ensureOutboxSweeper(temporal, log).then((ok) => {
    if (!ok) setTimeout(() => ensureOutboxSweeperInBackground(temporal, log, retryMs), retryMs).unref();
  });
}

async function createSweeper(temporal: TemporalHandle): Promise<void> {
  try {
    await temporal.client.schedule.create({
      scheduleId: outboxSweepScheduleId(temporal.taskQueue),
      spec: { intervals: [{ every: '1 minute' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'outboxSweepWorkflow',
        taskQueue: temporal.taskQueue,
        args: [60_000],
        workflowExecutionTimeout: '5 minutes',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
