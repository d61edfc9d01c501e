// Every call the API makes to a rotation workflow, each under a deadline: the database answers
// for a rotation whenever Temporal does not (the retired secret's expiry is in its row).
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { HttpError, conflict } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TemporalHandle } from '../../../temporal/client.js';
import { SA } from '../../../temporal/search-attributes.js';
import { legacyRotationWorkflowId, rotationWorkflowId } from '../../../temporal/workflow-ids.js';
// Update/query definitions are plain `{ name }` objects: importing them keeps client and workflow
// agreeing on names, as the function reference does for the workflow type.
import {
  endGraceNowUpdate,
  endGraceSignal,
  extendGraceUpdate,
  keyRotationWorkflow,
  rotationStateQuery,
  type RotationInput,
  type RotationState,
} from '../../../workflows/rotation.js';

export interface RotationTemporalDeps {
  temporal: TemporalHandle;
  log: Logger;
}

/** How long a call waits on Temporal before answering from the database instead. */
const TEMPORAL_WAIT_MS = 5_000;

/**
 * Idempotent: the id names the rotation, a running one is reused and a finished one is never run
 * again. "Already started" counts as success only because the id holds the key's primary key:
 * whatever runs under it is this key's rotation n, never one of an earlier key with the same id.
 * Retried briefly; if Temporal stays away, the rotation still holds (expiry is in the row) and the
 * next state/end/extend call or the reminders sweep picks it up.
 */
export async function startRotationWorkflow(deps: RotationTemporalDeps, input: RotationInput): Promise<boolean> {
  const workflowId = rotationWorkflowId(input.workspaceId, input.keyPk, input.rotation);
  const budgetEnds = Date.now() + 5_000;
  let last: unknown;
  for (const pause of [0, 250, 1_000]) {
    if (pause) await new Promise((r) => setTimeout(r, pause));
    if (Date.now() >= budgetEnds) break;
    try {
      await deps.temporal.connection.withDeadline(budgetEnds, () =>
        deps.temporal.client.workflow.start(keyRotationWorkflow, {
          taskQueue: deps.temporal.taskQueue,
          workflowId,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: [
            { key: SA.workspace, value: input.workspaceId },
            { key: SA.keyId, value: input.keyId },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return true;
      last = err;
    }
  }
  deps.log.warn({ err: last, workflowId }, 'rotation workflow not started; the retired secret still expires on time');
  return false;
}

/** Fire-and-forget end of grace (a newer rotation superseding this one): needs no worker to be up. */
export async function signalEndGrace(deps: RotationTemporalDeps, workflowId: string): Promise<void> {
  try {
    await deps.temporal.connection.withDeadline(Date.now() + 3_000, () =>
      deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(workflowId).signal(endGraceSignal),
    );
  } catch (err) {
    // Finished already, or Temporal is away: the rows already ended that grace.
    if (!(err instanceof WorkflowNotFoundError)) deps.log.warn({ err, workflowId }, 'could not tell the rotation workflow its grace ended');
  }
}

export type FoundRotation =
  | { workflowId: string; status: 'running' | 'completed' | 'closed' }
  | { workflowId?: undefined; status: 'missing' | 'unreachable' };

/**
 * Rotation `n`'s workflow of this key: under its primary-key name, or else under the key-id name
 * used before, provided that one was started for this key and not for an earlier key with the id.
 */
export async function findRotationWorkflow(
  deps: RotationTemporalDeps,
  workspaceId: string,
  key: { pk: string; id: string },
  rotation: number,
): Promise<FoundRotation> {
  const describe = async (workflowId: string) => {
    try {
      return await deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  const statusOf = (name: string) => (name === 'RUNNING' ? 'running' : name === 'COMPLETED' ? 'completed' : 'closed');
  const current = rotationWorkflowId(workspaceId, key.pk, rotation);
  const legacy = legacyRotationWorkflowId(workspaceId, key.id, rotation);
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, async (): Promise<FoundRotation> => {
      const described = await describe(current);
      if (described) return { workflowId: current, status: statusOf(described.status.name) };
      const old = legacy === current ? undefined : await describe(legacy);
      if (old && (await startedForKey(deps, legacy, old.runId)) === key.pk) return { workflowId: legacy, status: statusOf(old.status.name) };
      return { status: 'missing' };
    });
  } catch (err) {
    deps.log.warn({ err, workflowId: current }, 'rotation workflow not reachable; answering from the database');
    return { status: 'unreachable' };
  }
}

/** The key primary key a rotation workflow was started with: the first event of its history holds its input. */
async function startedForKey(deps: Pick<RotationTemporalDeps, 'temporal'>, workflowId: string, runId: string): Promise<string | undefined> {
  const page = await deps.temporal.client.workflowService.getWorkflowExecutionHistory({
    namespace: deps.temporal.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  let payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const converter = deps.temporal.client.workflow.options.loadedDataConverter;
  for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  const input = payloads[0] ? converter.payloadConverter.fromPayload<Partial<RotationInput> | null>(payloads[0]) : undefined;
  return typeof input?.keyPk === 'string' ? input.keyPk : undefined;
}

/** What a running or completed rotation workflow says, when it answers in time. */
export async function queryRotationState(
  deps: RotationTemporalDeps,
  target: { workflowId: string; status: 'running' | 'completed' },
): Promise<RotationState | undefined> {
  const handle = deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(target.workflowId);
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
      target.status === 'completed' ? handle.result() : handle.query(rotationStateQuery),
    );
  } catch (err) {
    // No worker answers queries right now; the rows say the same thing, less the workflow's view.
    deps.log.warn({ err, workflowId: target.workflowId }, 'rotation state not answered; answering from the database');
    return undefined;
  }
}

/** Asks the running workflow to end its grace now; undefined when it does not answer in time. */
export async function updateEndGraceNow(deps: RotationTemporalDeps, workflowId: string): Promise<RotationState | undefined> {
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
      deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(workflowId).executeUpdate(endGraceNowUpdate),
    );
  } catch (err) {
    deps.log.warn({ err, workflowId }, 'end-grace update not answered; the workflow is signalled instead');
    return undefined;
  }
}

/**
 * Pushes the running workflow's grace end `seconds` later. The workflow's validator is the
 * authority on the 7-day cap; its refusals become the API's 409 / 400, no answer in time a 503.
 */
export async function updateExtendGrace(deps: RotationTemporalDeps, workflowId: string, seconds: number): Promise<RotationState> {
  try {
    return await deps.temporal.connection.withDeadline(Date.now() + TEMPORAL_WAIT_MS, () =>
      deps.temporal.client.workflow.getHandle<typeof keyRotationWorkflow>(workflowId).executeUpdate(extendGraceUpdate, { args: [seconds] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new HttpError(
        503,
        'temporal_unavailable',
        'The rotation workflow did not confirm the extension in time (no worker running?); read the rotation state before retrying',
      );
    }
    const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (failure instanceof ApplicationFailure) {
      if (failure.type === 'GraceEnded') throw conflict(failure.message);
      if (failure.type === 'GraceTooLong' || failure.type === 'InvalidGraceExtension') {
        throw new HttpError(400, 'invalid_input', failure.message, 'seconds');
      }
    }
    throw err;
  }
}
