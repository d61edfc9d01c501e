import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb, type Row } from '../../db/kysely.js';
import type { DeliveryStatus } from '../../db/entities/webhook-delivery.js';
import { conflict, notFound } from '../errors.js';
import { page } from '../page.js';
import { workspaceScope, type WorkspaceScope } from '../scope.js';
import type { WebhookDeps } from './deps.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { deliveryWorkflowId } from '../../temporal/workflow-ids.js';
import { retryNowSignal } from '../../workflows/delivery.js';
import { startDeliveryWorkflow } from './dispatch.js';
import { assertActive, findEndpoint } from './endpoints.js';
import { ATTEMPT_TIMEOUT_MS } from './http.js';
import { parseRetrySchedule } from './retry.js';

// Deliveries as the API shows them (with their attempts), and sending one again.

export interface AttemptView {
  attempt: number;
  attemptedAt: Date;
  trigger: string;
  statusCode: number;
  durationMs: number;
  response: string;
  error: string | null;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  status: DeliveryStatus;
  workflowId: string;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  createdAt: Date;
  attempts: AttemptView[];
}

const DELIVERY_COLUMNS = [
  'id',
  'event_id',
  'endpoint_id',
  'status',
  'workflow_id',
  'attempt_count',
  'next_attempt_at',
  'last_attempt_at',
  'created_at',
] as const satisfies readonly (keyof Row<'webhook_delivery'>)[];

type DeliveryRow = Pick<Row<'webhook_delivery'>, (typeof DELIVERY_COLUMNS)[number]> & { event_type: string | null };

/** A delivery's columns as every read shows them, with its event's type. */
function deliveries(scope: WorkspaceScope) {
  return scope
    .selectFrom('webhook_delivery')
    .select(DELIVERY_COLUMNS)
    .select(() => scope.selectFrom('event').select('type').where('event.id', '=', sql.ref<string>('webhook_delivery.event_id')).as('event_type'));
}

async function withAttempts(em: EntityManager, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  if (rows.length === 0) return [];
  // Attempts have no workspace of their own: they are reached by the ids of deliveries just read through the scope.
  const attempts = await typedDb(em)
    .selectFrom('webhook_attempt')
    .select(['delivery_id', 'attempt_number', 'attempted_at', 'trigger', 'status_code', 'duration_ms', 'response_excerpt', 'error'])
    .where('delivery_id', 'in', rows.map((r) => r.id))
    .orderBy('attempted_at')
    .orderBy('attempt_number')
    .execute();
  const byDelivery = new Map<string, AttemptView[]>();
  for (const a of attempts) {
    const list = byDelivery.get(a.delivery_id) ?? [];
    list.push({
      attempt: a.attempt_number,
      attemptedAt: new Date(a.attempted_at),
      trigger: a.trigger,
      statusCode: a.status_code,
      durationMs: a.duration_ms,
      response: a.response_excerpt,
      error: a.error,
    });
    byDelivery.set(a.delivery_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type ?? '',
    endpointId: r.endpoint_id,
    status: r.status as DeliveryStatus,
    workflowId: r.workflow_id,
    attemptCount: r.attempt_count,
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    lastAttemptAt: r.last_attempt_at ? new Date(r.last_attempt_at) : null,
    createdAt: new Date(r.created_at),
    attempts: byDelivery.get(r.id) ?? [],
  }));
}

export async function listEventDeliveries(em: EntityManager, workspaceId: string, eventId: string): Promise<DeliveryView[]> {
  const scope = workspaceScope(em, workspaceId);
  await scope
    .selectFrom('event')
    .select('id')
    .where('id', '=', eventId)
    .executeTakeFirstOrThrow(() => notFound('Event', eventId));
  const rows = await deliveries(scope).where('event_id', '=', eventId).orderBy('created_at').orderBy('id').execute();
  return withAttempts(em, rows);
}

export interface ListEndpointDeliveriesInput {
  status?: DeliveryStatus;
  cursor?: string;
  limit: number;
}

export async function listEndpointDeliveries(
  em: EntityManager,
  workspaceId: string,
  endpointId: string,
  q: ListEndpointDeliveriesInput,
): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
  await findEndpoint({ em }, workspaceId, endpointId);
  let query = deliveries(workspaceScope(em, workspaceId)).where('endpoint_id', '=', endpointId);
  if (q.status) query = query.where('status', '=', q.status);
  const { items, nextCursor } = await page(query, { time: 'created_at', id: 'id' }, { cursor: q.cursor, limit: q.limit });
  return { deliveries: await withAttempts(em, items), nextCursor };
}

async function findDelivery(em: EntityManager, workspaceId: string, id: string): Promise<DeliveryRow> {
  return deliveries(workspaceScope(em, workspaceId))
    .where('id', '=', id)
    .executeTakeFirstOrThrow(() => notFound('Delivery', id));
}

export async function getDelivery(em: EntityManager, workspaceId: string, id: string): Promise<DeliveryView> {
  return (await withAttempts(em, [await findDelivery(em, workspaceId, id)]))[0]!;
}

/**
 * Takes a delivery back to `pending` for a new run of its workflow, when its status is one of
 * `from` (a delivery still being retried is its running workflow's). False when it was not.
 */
export async function claimForReplay(scope: WorkspaceScope, id: string, from: readonly DeliveryStatus[]): Promise<boolean> {
  const claimed = await scope
    .updateTable('webhook_delivery')
    .set({ status: 'pending', next_attempt_at: null, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', 'in', from)
    .returning('id')
    .executeTakeFirst();
  return claimed !== undefined;
}

/**
 * "Retry now" for a delivery waiting out a backoff (`retrying`): its running workflow is signalled
 * to make the next attempt at once (same workflow, same `webhook-id`); if that attempt fails the
 * schedule continues from it. False when the delivery was not waiting (or its workflow has ended).
 */
export async function retryNow(deps: Pick<WebhookDeps, 'em' | 'temporal'>, workspaceId: string, d: { id: string; event_id: string; endpoint_id: string }): Promise<boolean> {
  // Shown at once as due now; the attempt's own record replaces it.
  const waiting = await workspaceScope(deps.em, workspaceId)
    .updateTable('webhook_delivery')
    .set({ next_attempt_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('id', '=', d.id)
    .where('status', '=', 'retrying')
    .returning('id')
    .executeTakeFirst();
  if (!waiting) return false;
  try {
    await deps.temporal.client.workflow.getHandle(deliveryWorkflowId(d.event_id, d.endpoint_id)).signal(retryNowSignal);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Sends a delivery again. A finished one (succeeded, failed, skipped) gets a new run of its
 * workflow (same id, so the Web UI shows the runs together) whose first attempt is `manual`; one
 * waiting out a backoff makes its next attempt now (retryNow). One whose attempt is under way
 * (pending) or held by a paused endpoint is refused.
 */
export async function replayDelivery(deps: WebhookDeps, workspaceId: string, id: string): Promise<DeliveryView> {
  const d = await findDelivery(deps.em, workspaceId, id);
  assertActive(await findEndpoint(deps, workspaceId, d.endpoint_id));
  const scope = workspaceScope(deps.em, workspaceId);
  if (d.status === 'retrying') {
    if (await retryNow(deps, workspaceId, d)) return getDelivery(deps.em, workspaceId, d.id);
    throw conflict(`Delivery '${d.id}' is no longer waiting for a retry; reload it`, 'id');
  }
  // `paused`: held, though its endpoint is active again (it was stored during the resume itself).
  if (!(await claimForReplay(scope, d.id, ['succeeded', 'failed', 'skipped', 'paused']))) {
    throw conflict(`Delivery '${d.id}' is ${d.status}: its workflow is still sending it`, 'id');
  }
  const started = await startDeliveryWorkflow(
    deps.temporal,
    { deliveryId: d.id, eventId: d.event_id, endpointId: d.endpoint_id, workspaceId, eventType: d.event_type ?? '' },
    { trigger: 'manual', scheduleMs: parseRetrySchedule(deps.config.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE), attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
  );
  if (!started) {
    await scope.updateTable('webhook_delivery').set({ status: d.status }).where('id', '=', d.id).execute();
    throw conflict(`Delivery '${d.id}' has a workflow still running; try again when it ends`, 'id');
  }
  return getDelivery(deps.em, workspaceId, d.id);
}
