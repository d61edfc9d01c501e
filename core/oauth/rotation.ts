import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Config } from '../config.js';
import { conflict } from '../errors.js';
import type { Logger } from '../log.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { scheduleIds, signingKeyRotationWorkflowId } from '../../temporal/workflow-ids.js';
import { signingKeyRotationWorkflow, type SigningKeyRotationInput } from '../../workflows/signing-keys.js';
import { PUBLISH_BEFORE_SIGNING_MS, RETIRED_GRACE_MS } from './signing-keys.js';

export interface RotationDeps {
  temporal: TemporalHandle;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
  log: Logger;
}

/**
 * The operator's "rotate now": the same workflow the Schedule runs, under one fixed id. While one
 * runs (through its grace wait) another is refused with a 409 rather than stacked.
 */
export async function rotateSigningKeyNow(deps: RotationDeps, input: Partial<SigningKeyRotationInput> = {}): Promise<{ workflowId: string; runId: string }> {
  const workflowId = signingKeyRotationWorkflowId(deps.config);
  try {
    const handle = await deps.temporal.client.workflow.start(signingKeyRotationWorkflow, {
      taskQueue: deps.temporal.taskQueue,
      workflowId,
      args: [{ publishMs: PUBLISH_BEFORE_SIGNING_MS, graceMs: RETIRED_GRACE_MS, ...input }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
    });
    return { workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw conflict('A signing-key rotation is already running (it ends when the retired key leaves the JWKS); see it in Temporal as ' + workflowId);
    }
    throw err;
  }
}

/** When the Schedule next rotates, or null when it is not there (no worker has started yet) or Temporal is away. */
export async function nextRotationAt(deps: RotationDeps): Promise<string | null> {
  try {
    const info = await deps.temporal.connection.withDeadline(Date.now() + 3_000, () =>
      deps.temporal.client.schedule.getHandle(scheduleIds(deps.config).signingKeyRotation).describe(),
    );
    const next = info.info.nextActionTimes[0];
    return next ? next.toISOString() : null;
  } catch (err) {
    deps.log.debug({ err }, 'signing-key rotation schedule not described');
    return null;
  }
}
