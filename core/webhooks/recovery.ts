import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import { sql } from 'kysely';
import { recoverWorkflow, recoveryProgressQuery, type RecoverInput, type RecoveryProgress } from '../../workflows/recover.js';
import type { DeliveryStatus } from '../../db/entities/webhook-delivery.js';
import { SA } from '../../temporal/search-attributes.js';
import { recoveryWorkflowId } from '../../temporal/workflow-ids.js';
import { CURSOR_TIMESTAMP_FORMAT } from '../cursor.js';
import { HttpError, notFound } from '../errors.js';
import { workspaceScope } from '../scope.js';
import type { WebhookDeps } from './deps.js';
import { claimForReplay, retryNow } from './deliveries.js';
import { startDeliveryWorkflow } from './dispatch.js';
import { assertActive, findEndpoint } from './endpoints.js';
import { ATTEMPT_TIMEOUT_MS } from './http.js';

// Recovery: `recover:<endpointId>:<n>` replays an endpoint's failed deliveries since a date, and
// makes those waiting out a backoff retry now.

/**
 * Statuses a recovery replays: given up on, skipped (endpoint disabled, or held and skipped on
 * resume), or still held although the endpoint is active again (stored during the resume itself).
 */
const REPLAYABLE: readonly DeliveryStatus[] = ['failed', 'skipped', 'paused'];
/** …and those it retries now: waiting out a backoff in their running workflow. */
const RECOVERABLE: readonly DeliveryStatus[] = [...REPLAYABLE, 'retrying'];

/** The endpoint's recoverable deliveries created in [since, until). */
function recoverable(em: EntityManager, input: RecoverInput) {
  return workspaceScope(em, input.workspaceId)
    .selectFrom('webhook_delivery')
    .where('endpoint_id', '=', input.endpointId)
    .where('status', 'in', RECOVERABLE)
    .where('created_at', '>=', new Date(input.since))
    .where('created_at', '<', new Date(input.until));
}

export async function countRecoverable(em: EntityManager, input: RecoverInput): Promise<number> {
  const { n } = await recoverable(em, input)
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(n);
}

export interface RecoverPageInput extends RecoverInput {
  after?: { createdAt: string; id: string };
  limit: number;
}

/**
 * Replays one page of recoverable deliveries, oldest first. The page position travels through
 * workflow history (and continue-as-new), so it keeps its shape: the last row's timestamp as
 * cursors render it, and its id.
 */
export async function replayRecoverablePage(
  deps: WebhookDeps & { schedule: number[] },
  input: RecoverPageInput,
): Promise<{ replayed: number; retriedNow: number; next?: { createdAt: string; id: string } }> {
  let query = recoverable(deps.em, input)
    .select(['id', 'event_id', 'status'])
    .select((eb) => sql<string>`to_char(${eb.ref('created_at')} at time zone 'UTC', ${sql.lit(CURSOR_TIMESTAMP_FORMAT)})`.as('cursor_ts'))
    .select((eb) =>
      workspaceScope(deps.em, input.workspaceId)
        .selectFrom('event')
        .select('type')
        .where('event.id', '=', eb.ref('webhook_delivery.event_id'))
        .as('event_type'),
    );
  if (input.after) {
    const after = input.after;
    query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(sql<Date>`${after.createdAt}::timestamptz`, after.id)));
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(input.limit).execute();
  const scope = workspaceScope(deps.em, input.workspaceId);
  let replayed = 0;
  let retriedNow = 0;
  for (const r of rows) {
    if (r.status === 'retrying') {
      if (await retryNow(deps, input.workspaceId, { id: r.id, event_id: r.event_id, endpoint_id: input.endpointId })) retriedNow++;
      continue;
    }
    if (!(await claimForReplay(scope, r.id, REPLAYABLE))) continue;
    const started = await startDeliveryWorkflow(
      deps.temporal,
      { deliveryId: r.id, eventId: r.event_id, endpointId: input.endpointId, workspaceId: input.workspaceId, eventType: r.event_type ?? '' },
      { trigger: 'manual', scheduleMs: deps.schedule, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
    );
    if (started) replayed++;
  }
  const last = rows[rows.length - 1];
  return { replayed, retriedNow, ...(rows.length === input.limit && last ? { next: { createdAt: last.cursor_ts, id: last.id } } : {}) };
}

export interface RecoveryView {
  id: number;
  endpointId: string;
  workflowId: string;
  status: 'running' | 'completed' | 'failed';
  since: Date;
  total: number;
  replayed: number;
  /** Deliveries that were waiting out a backoff and made their next attempt at once. */
  retriedNow: number;
}

/** Starts `recover:<endpointId>:<n>`: the endpoint's failed and skipped deliveries created since `since` replayed, those waiting for a retry retried now. */
export async function startRecovery(deps: WebhookDeps, workspaceId: string, endpointId: string, since: Date): Promise<RecoveryView> {
  const endpoint = await findEndpoint(deps, workspaceId, endpointId);
  assertActive(endpoint);
  if (since.getTime() > Date.now()) throw new HttpError(400, 'invalid_input', 'since: must not be in the future', 'since');
  const counted = await workspaceScope(deps.em, workspaceId)
    .updateTable('webhook_endpoint')
    .set((eb) => ({ recovery_count: eb('recovery_count', '+', 1) }))
    .where('id', '=', endpointId)
    .returning(['recovery_count', sql<Date>`now()`.as('now')])
    .executeTakeFirstOrThrow(() => notFound('Webhook endpoint', endpointId));
  const n = counted.recovery_count;
  const input: RecoverInput = { workspaceId, endpointId, since: since.toISOString(), until: new Date(counted.now).toISOString() };
  const workflowId = recoveryWorkflowId(endpointId, n);
  await deps.temporal.client.workflow.start(recoverWorkflow, {
    workflowId,
    taskQueue: deps.temporal.taskQueue,
    args: [input],
    memo: { since: input.since },
    typedSearchAttributes: [
      { key: SA.workspace, value: workspaceId },
      { key: SA.endpoint, value: endpointId },
    ],
  });
  return { id: n, endpointId, workflowId, status: 'running', since, total: 0, replayed: 0, retriedNow: 0 };
}

/** How long a progress read waits for a worker to answer the recovery's query. */
const RECOVERY_QUERY_MS = 5_000;

export async function getRecovery(deps: WebhookDeps, workspaceId: string, endpointId: string, n: number): Promise<RecoveryView> {
  await findEndpoint(deps, workspaceId, endpointId);
  const workflowId = recoveryWorkflowId(endpointId, n);
  const handle = deps.temporal.client.workflow.getHandle<typeof recoverWorkflow>(workflowId);
  let described;
  try {
    described = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound('Recovery', String(n));
    throw err;
  }
  let progress: RecoveryProgress;
  let status: RecoveryView['status'];
  if (described.status.name === 'RUNNING') {
    // A query is answered by a worker: with none polling it would wait for the RPC's own minute and
    // surface as a 500. Progress lives only in the workflow, so no answer in time is a 503.
    try {
      progress = await deps.temporal.connection.withDeadline(Date.now() + RECOVERY_QUERY_MS, () => handle.query(recoveryProgressQuery));
    } catch (err) {
      deps.log.warn({ err, workflowId }, 'recovery progress query not answered in time');
      throw new HttpError(503, 'temporal_unavailable', 'The recovery is running, but its progress cannot be read right now; try again shortly', undefined, { 'Retry-After': '5' });
    }
    status = 'running';
  } else if (described.status.name === 'COMPLETED') {
    progress = await handle.result();
    status = 'completed';
  } else {
    progress = { total: 0, replayed: 0, retriedNow: 0, done: false };
    status = 'failed';
  }
  return { id: n, endpointId, workflowId, status, since: new Date(String(described.memo?.['since'] ?? described.startTime.toISOString())), total: progress.total, replayed: progress.replayed, retriedNow: progress.retriedNow ?? 0 };
}
