import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { TemporalHandle } from '../../temporal/client.js';
import { SA } from '../../temporal/search-attributes.js';
import { deliveryWorkflowId, fanoutWorkflowId } from '../../temporal/workflow-ids.js';
import { deliveryWorkflow } from '../../workflows/delivery.js';
import { fanoutWorkflow } from '../../workflows/fanout.js';
import type { DeliveryInput } from './attempt.js';

// When a start here fails, the outbox-sweep Schedule (temporal/schedules.ts) starts the fan-out later.

export interface EventRef {
  id: string;
  workspaceId: string;
  type: string;
}

/** Starts `fanout:<eventId>`; a second start of the same event is a no-op (the first one delivers). */
export async function startFanout(temporal: TemporalHandle, event: EventRef): Promise<void> {
  try {
    await temporal.client.workflow.start(fanoutWorkflow, {
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
 * Starts the delivery's workflow. A first start (`scheduled`) never starts a second run for a
 * delivery whose workflow already ran, unless `rerun` (the fan-out of a `pending` delivery, such as
 * one released by a resume after its workflow ended held); a replay (`manual`) starts a new run of
 * the same workflow id once the previous one has closed. Returns false when a run was already there.
 */
export async function startDeliveryWorkflow(
  temporal: TemporalHandle,
  d: DeliveryRef,
  opts: { trigger: 'scheduled' | 'manual'; scheduleMs: number[]; attemptTimeoutMs: number; rerun?: boolean },
): Promise<boolean> {
  const input: DeliveryInput = {
    deliveryId: d.deliveryId,
    trigger: opts.trigger,
    scheduleMs: opts.scheduleMs,
    attemptTimeoutMs: opts.attemptTimeoutMs,
  };
  try {
    await temporal.client.workflow.start(deliveryWorkflow, {
      workflowId: deliveryWorkflowId(d.eventId, d.endpointId),
      taskQueue: temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: opts.trigger === 'manual' || opts.rerun ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
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
