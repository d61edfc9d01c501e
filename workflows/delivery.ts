import { condition, defineSignal, isCancellation, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AttemptInput, AttemptOutcome, DeliveryInput } from '../core/webhooks/attempt.js';
import { SA } from '../temporal/search-attributes.js';

// An attempt's HTTP exchange is cut at 15 s; the rest is PostgreSQL, so 30 s is ample and a
// worker killed mid-attempt is noticed within 30 s. Infrastructure failures
// (the database down, the worker killed) retry the activity without limit: the delivery waits
// for Gatehouse to come back instead of being marked failed for Gatehouse's own trouble.
const { attemptDelivery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// The same attempt run inside the workflow task, on the worker that runs the workflow: no activity
// task goes through the server and no second workflow task is needed (12 history events a delivery
// become 9; the Temporal server's CPU a delivery a fifth to a third less, BENCHMARKS.md "Attempts as
// local activities").
// Its retries of Gatehouse's own trouble last a minute at most; what outlasts that goes on as the
// activity above, whose retries, unlike a local activity's, add nothing to the history while they wait.
const { attemptDelivery: attemptInWorkflowTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

/** Marks runs whose attempts are local activities; runs started before it replay their activities as they were. */
const LOCAL_ATTEMPTS_PATCH = 'attempts-as-local-activities';

export interface DeliveryResult {
  deliveryId: string;
  status: AttemptOutcome['status'];
  attempts: number;
}

/**
 * "Retry now" (POST /deliveries/{id}/replay on a delivery waiting out a backoff, or a recovery):
 * ends the current wait at once; if that attempt fails the schedule continues from it. A signal
 * that arrives while an attempt runs (the API saw `retrying` just before) ends the wait after it.
 */
export const retryNowSignal = defineSignal('retryNow');

/**
 * One event to one endpoint (`delivery:<eventId>:<endpointId>`): attempts until one succeeds,
 * the endpoint answers 410 or stops being active, or the retry schedule is spent. Only ids and
 * small status objects pass through here: payload and secrets stay in PostgreSQL.
 */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryResult> {
  let retryNow = false;
  setHandler(retryNowSignal, () => {
    retryNow = true;
  });
  const attemptOnce = patched(LOCAL_ATTEMPTS_PATCH) ? attemptLocallyFirst : attemptDelivery;
  let trigger = input.trigger;
  for (let attempt = 1; ; attempt++) {
    retryNow = false;
    const outcome = await attemptOnce({ ...input, attempt, trigger });
    upsertSearchAttributes([{ key: SA.deliveryStatus, value: outcome.status }]);
    if (outcome.status !== 'retrying') return { deliveryId: input.deliveryId, status: outcome.status, attempts: attempt };
    // The same timer command as the sleep it replaces, so histories recorded before "retry now"
    // replay unchanged (test/replay); the signal, when it comes, cancels the timer.
    const early = await condition(() => retryNow, outcome.nextDelayMs);
    trigger = early ? 'manual' : 'scheduled';
  }
}

/** An attempt in the workflow task; if Gatehouse's own trouble outlasts its minute, the same attempt as an activity. */
async function attemptLocallyFirst(input: AttemptInput): Promise<AttemptOutcome> {
  try {
    return await attemptInWorkflowTask(input);
  } catch (err) {
    // A local activity's last failure is not an ActivityFailure here (test/webhooks/local-attempts.test.ts
    // saw the activity's own ApplicationFailure come back): anything but the workflow's cancellation goes on.
    if (isCancellation(err)) throw err;
    return attemptDelivery(input);
  }
}
