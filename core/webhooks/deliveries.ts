import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import { HttpError, conflict, notFound } from '../errors.js';
import { recoverWorkflow, recoveryProgressQuery, type RecoverInput, type RecoveryProgress } from '../../workflows/recover.js';
import { cursorTimestamp, decodeCursor, encodeCursor } from '../cursor.js';
import { raiseCheckedEvent, raiseEvent, type RaisedEvent } from '../events.js';
import { assertPayloadMatches } from '../events/payload-schema.js';
import type { DeliveryStatus } from '../../db/entities/webhook-delivery.js';
import type { WebhookDeps } from './deps.js';
import { startDeliveryWorkflow } from './dispatch.js';
import { recoveryWorkflowId } from '../../temporal/workflow-ids.js';
import { assertActive, findEndpoint } from './endpoints.js';
import { assertNotReservedEventType, customEventTypeSchema, TEST_EVENT_TYPE } from './event-types.js';
import { ATTEMPT_TIMEOUT_MS } from './http.js';
import { SA } from '../../temporal/search-attributes.js';
import { parseRetrySchedule } from './retry.js';

// ---------------------------------------------------------------- events

export interface PublishInput {
  type: string;
  payload: Record<string, unknown>;
  idempotencyKey?: string;
}

/**
 * POST /events: a known type outside Gatehouse's own namespaces only, its payload matching the
 * type's schema (400 naming the JSON path); idempotent on the caller's key for 24 hours.
 */
export async function publishEvent(deps: WebhookDeps, workspaceId: string, input: PublishInput): Promise<RaisedEvent> {
  assertNotReservedEventType(input.type, 'type');
  assertPayloadMatches(input.type, await customEventTypeSchema(deps.em, workspaceId, input.type, 'type'), input.payload);
  return raiseCheckedEvent(deps, { workspaceId, type: input.type, payload: input.payload, idempotencyKey: input.idempotencyKey, source: 'api' });
}

export interface EventView {
  id: string;
  type: string;
  source: string;
  createdAt: Date;
  dispatchedAt: Date | null;
  deliveries: number;
  payload?: Record<string, unknown>;
}

interface EventRow {
  id: string;
  type: string;
  source: string;
  created_at: Date;
  dispatched_at: Date | null;
  deliveries: string;
  cursor_ts: string;
  payload?: Record<string, unknown>;
}

const eventView = (r: EventRow): EventView => ({
  id: r.id,
  type: r.type,
  source: r.source,
  createdAt: new Date(r.created_at),
  dispatchedAt: r.dispatched_at ? new Date(r.dispatched_at) : null,
  deliveries: Number(r.deliveries),
  ...(r.payload !== undefined ? { payload: r.payload } : {}),
});

export interface ListEventsInput {
  type?: string;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit: number;
}

/** Newest first, paged by an opaque cursor; payloads are left out (GET /events/{id} has it). */
export async function listEvents(em: EntityManager, workspaceId: string, q: ListEventsInput): Promise<{ events: EventView[]; nextCursor: string | null }> {
  const where = ['e.workspace_id = ?'];
  const params: unknown[] = [workspaceId];
  if (q.type) {
    where.push('e.type = ?');
    params.push(q.type);
  }
  if (q.since) {
    where.push('e.created_at >= ?');
    params.push(q.since);
  }
  if (q.until) {
    where.push('e.created_at < ?');
    params.push(q.until);
  }
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    where.push('(e.created_at, e.id) < (?::timestamptz, ?)');
    params.push(c.timestamp, c.id);
  }
  const rows = await em.execute<EventRow[]>(
    `select e.id, e.type, e.source, e.created_at, e.dispatched_at, ${cursorTimestamp('e.created_at')} as cursor_ts,
            (select count(*) from webhook_delivery d where d.event_id = e.id) as deliveries
       from event e where ${where.join(' and ')}
      order by e.created_at desc, e.id desc limit ?`,
    [...params, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { events: page.map(eventView), nextCursor: rows.length > q.limit && last ? encodeCursor(last.cursor_ts, last.id) : null };
}

export async function getEvent(em: EntityManager, workspaceId: string, id: string): Promise<EventView> {
  const rows = await em.execute<EventRow[]>(
    `select e.id, e.type, e.source, e.created_at, e.dispatched_at, e.payload, '' as cursor_ts,
            (select count(*) from webhook_delivery d where d.event_id = e.id) as deliveries
       from event e where e.workspace_id = ? and e.id = ?`,
    [workspaceId, id],
  );
  if (!rows[0]) throw notFound('Event', id);
  return eventView(rows[0]);
}

// ---------------------------------------------------------------- deliveries

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

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  status: DeliveryStatus;
  workflow_id: string;
  attempt_count: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  created_at: Date;
  cursor_ts: string;
  workspace_id: string;
}

interface AttemptRow {
  delivery_id: string;
  attempt_number: number;
  attempted_at: Date;
  trigger: string;
  status_code: number;
  duration_ms: number;
  response_excerpt: string;
  error: string | null;
}

const DELIVERY_COLUMNS = `d.id, d.workspace_id, d.event_id, e.type as event_type, d.endpoint_id, d.status, d.workflow_id, d.attempt_count,
  d.next_attempt_at, d.last_attempt_at, d.created_at, ${cursorTimestamp('d.created_at')} as cursor_ts`;

async function withAttempts(em: EntityManager, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  if (rows.length === 0) return [];
  const attempts = await em.execute<AttemptRow[]>(
    `select delivery_id, attempt_number, attempted_at, trigger, status_code, duration_ms, response_excerpt, error
       from webhook_attempt where delivery_id in (select jsonb_array_elements_text(?::jsonb))
      order by attempted_at, attempt_number`,
    [JSON.stringify(rows.map((r) => r.id))],
  );
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
    eventType: r.event_type,
    endpointId: r.endpoint_id,
    status: r.status,
    workflowId: r.workflow_id,
    attemptCount: r.attempt_count,
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    lastAttemptAt: r.last_attempt_at ? new Date(r.last_attempt_at) : null,
    createdAt: new Date(r.created_at),
    attempts: byDelivery.get(r.id) ?? [],
  }));
}

export async function listEventDeliveries(em: EntityManager, workspaceId: string, eventId: string): Promise<DeliveryView[]> {
  const exists = await em.execute<{ id: string }[]>(`select id from event where workspace_id = ? and id = ?`, [workspaceId, eventId]);
  if (!exists[0]) throw notFound('Event', eventId);
  const rows = await em.execute<DeliveryRow[]>(
    `select ${DELIVERY_COLUMNS} from webhook_delivery d join event e on e.id = d.event_id
      where d.workspace_id = ? and d.event_id = ? order by d.created_at, d.id`,
    [workspaceId, eventId],
  );
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
  const where = ['d.workspace_id = ?', 'd.endpoint_id = ?'];
  const params: unknown[] = [workspaceId, endpointId];
  if (q.status) {
    where.push('d.status = ?');
    params.push(q.status);
  }
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    where.push('(d.created_at, d.id) < (?::timestamptz, ?)');
    params.push(c.timestamp, c.id);
  }
  const rows = await em.execute<DeliveryRow[]>(
    `select ${DELIVERY_COLUMNS} from webhook_delivery d join event e on e.id = d.event_id
      where ${where.join(' and ')} order by d.created_at desc, d.id desc limit ?`,
    [...params, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { deliveries: await withAttempts(em, page), nextCursor: rows.length > q.limit && last ? encodeCursor(last.cursor_ts, last.id) : null };
}

async function findDelivery(em: EntityManager, workspaceId: string, id: string): Promise<DeliveryRow> {
  const rows = await em.execute<DeliveryRow[]>(
    `select ${DELIVERY_COLUMNS} from webhook_delivery d join event e on e.id = d.event_id where d.workspace_id = ? and d.id = ?`,
    [workspaceId, id],
  );
  if (!rows[0]) throw notFound('Delivery', id);
  return rows[0];
}

export async function getDelivery(em: EntityManager, workspaceId: string, id: string): Promise<DeliveryView> {
  return (await withAttempts(em, [await findDelivery(em, workspaceId, id)]))[0]!;
}

/**
 * Sends a delivery again, as a new run of its workflow (same id, so the Web UI shows the runs
 * together) whose first attempt is `manual`. A delivery still being retried is refused: the
 * running workflow already sends it.
 */
export async function replayDelivery(deps: WebhookDeps, workspaceId: string, id: string): Promise<DeliveryView> {
  const d = await findDelivery(deps.em, workspaceId, id);
  assertActive(await findEndpoint(deps, workspaceId, d.endpoint_id));
  const claimed = await deps.em.execute<{ id: string }[]>(
    `update webhook_delivery set status = 'pending', next_attempt_at = null, updated_at = now()
      where id = ? and status in ('succeeded', 'failed', 'skipped') returning id`,
    [d.id],
  );
  if (claimed.length === 0) throw conflict(`Delivery '${d.id}' is ${d.status}: its workflow is still sending it`, 'id');
  const started = await startDeliveryWorkflow(
    deps.temporal,
    { deliveryId: d.id, eventId: d.event_id, endpointId: d.endpoint_id, workspaceId, eventType: d.event_type },
    { trigger: 'manual', scheduleMs: parseRetrySchedule(deps.config.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE), attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
  );
  if (!started) {
    await deps.em.execute(`update webhook_delivery set status = ? where id = ?`, [d.status, d.id]);
    throw conflict(`Delivery '${d.id}' has a workflow still running; try again when it ends`, 'id');
  }
  return getDelivery(deps.em, workspaceId, d.id);
}

// ---------------------------------------------------------------- test events

/** Sends a `webhook.test` event to this endpoint only; it is a real event with a real delivery to inspect. */
export async function sendTestEvent(deps: WebhookDeps, workspaceId: string, endpointId: string): Promise<{ event: RaisedEvent; deliveryId: string; workflowId: string }> {
  const endpoint = await findEndpoint(deps, workspaceId, endpointId);
  assertActive(endpoint);
  const event = await raiseEvent(deps, {
    workspaceId,
    type: TEST_EVENT_TYPE,
    source: 'gatehouse',
    onlyEndpointId: endpointId,
    payload: { message: 'A test event from Gatehouse', endpoint_id: endpointId, sent_at: new Date().toISOString() },
  });
  const rows = await deps.em.execute<{ id: string; workflow_id: string }[]>(
    `select id, workflow_id from webhook_delivery where event_id = ? and endpoint_id = ?`,
    [event.id, endpointId],
  );
  if (!rows[0]) throw new HttpError(409, 'conflict', `Webhook endpoint '${endpointId}' stopped being active; nothing was sent`);
  return { event, deliveryId: rows[0].id, workflowId: rows[0].workflow_id };
}

// ---------------------------------------------------------------- recovery

/** Statuses a recovery replays: given up on, or skipped while the endpoint was paused/disabled. */
const RECOVERABLE = `('failed', 'skipped')`;

export async function countRecoverable(em: EntityManager, input: RecoverInput): Promise<number> {
  const rows = await em.execute<{ n: string }[]>(
    `select count(*) as n from webhook_delivery
      where workspace_id = ? and endpoint_id = ? and status in ${RECOVERABLE} and created_at >= ? and created_at < ?`,
    [input.workspaceId, input.endpointId, input.since, input.until],
  );
  return Number(rows[0]?.n ?? 0);
}

export interface RecoverPageInput extends RecoverInput {
  after?: { createdAt: string; id: string };
  limit: number;
}

export async function replayRecoverablePage(
  deps: WebhookDeps & { schedule: number[] },
  input: RecoverPageInput,
): Promise<{ replayed: number; next?: { createdAt: string; id: string } }> {
  const after = input.after ? `and (d.created_at, d.id) > (?::timestamptz, ?)` : '';
  const rows = await deps.em.execute<{ id: string; event_id: string; event_type: string; cursor_ts: string }[]>(
    `select d.id, d.event_id, e.type as event_type, ${cursorTimestamp('d.created_at')} as cursor_ts
       from webhook_delivery d join event e on e.id = d.event_id
      where d.workspace_id = ? and d.endpoint_id = ? and d.status in ${RECOVERABLE} and d.created_at >= ? and d.created_at < ? ${after}
      order by d.created_at, d.id limit ?`,
    [input.workspaceId, input.endpointId, input.since, input.until, ...(input.after ? [input.after.createdAt, input.after.id] : []), input.limit],
  );
  let replayed = 0;
  for (const r of rows) {
    const claimed = await deps.em.execute<{ id: string }[]>(
      `update webhook_delivery set status = 'pending', next_attempt_at = null, updated_at = now() where id = ? and status in ${RECOVERABLE} returning id`,
      [r.id],
    );
    if (claimed.length === 0) continue;
    const started = await startDeliveryWorkflow(
      deps.temporal,
      { deliveryId: r.id, eventId: r.event_id, endpointId: input.endpointId, workspaceId: input.workspaceId, eventType: r.event_type },
      { trigger: 'manual', scheduleMs: deps.schedule, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
    );
    if (started) replayed++;
  }
  const last = rows[rows.length - 1];
  return { replayed, ...(rows.length === input.limit && last ? { next: { createdAt: last.cursor_ts, id: last.id } } : {}) };
}

export interface RecoveryView {
  id: number;
  endpointId: string;
  workflowId: string;
  status: 'running' | 'completed' | 'failed';
  since: Date;
  total: number;
  replayed: number;
}

/** Starts `recover:<endpointId>:<n>`, replaying the endpoint's failed deliveries created since `since`. */
export async function startRecovery(deps: WebhookDeps, workspaceId: string, endpointId: string, since: Date): Promise<RecoveryView> {
  const endpoint = await findEndpoint(deps, workspaceId, endpointId);
  assertActive(endpoint);
  if (since.getTime() > Date.now()) throw new HttpError(400, 'invalid_input', 'since: must not be in the future', 'since');
  const rows = await deps.em.execute<{ recovery_count: number; now: Date }[]>(
    `update webhook_endpoint set recovery_count = recovery_count + 1 where workspace_id = ? and id = ? returning recovery_count, now() as now`,
    [workspaceId, endpointId],
  );
  const n = rows[0]!.recovery_count;
  const input: RecoverInput = { workspaceId, endpointId, since: since.toISOString(), until: new Date(rows[0]!.now).toISOString() };
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
  return { id: n, endpointId, workflowId, status: 'running', since, total: 0, replayed: 0 };
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
    progress = { total: 0, replayed: 0, done: false };
    status = 'failed';
  }
  return { id: n, endpointId, workflowId, status, since: new Date(String(described.memo?.['since'] ?? described.startTime.toISOString())), total: progress.total, replayed: progress.replayed };
}
