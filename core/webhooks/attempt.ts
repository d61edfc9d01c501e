import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import { raiseEvent } from '../events.js';
import { newId } from '../ids.js';
import { workspaceScope } from '../scope.js';
import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { postWebhook, type PostResult } from './http.js';
import { calculateRetryDelay, parseRetryAfter } from './retry.js';
import { open } from './secret-box.js';
import { signedHeaders } from './signing.js';
import { publishAttempt } from '../metrics/channels.js';

/** What a delivery workflow is started with: ids and durations only. */
export interface DeliveryInput {
  deliveryId: string;
  /** `manual` for a replay, recovery or test; the workflow's retries are always `scheduled`. */
  trigger: 'scheduled' | 'manual';
  /** Delay before each attempt in ms (Svix's schedule unless the operator set another). */
  scheduleMs: number[];
  attemptTimeoutMs: number;
}

export interface AttemptInput extends DeliveryInput {
  /** 1-based attempt of this workflow run: picks the next delay from the schedule. */
  attempt: number;
}

/** The only thing an attempt hands back to workflow history: a status and, to retry, a delay. */
export type AttemptOutcome =
  | { status: 'succeeded' | 'failed' | 'skipped' | 'paused' }
  | { status: 'retrying'; nextDelayMs: number };

/** An endpoint failing every attempt for this long is disabled (Svix's rule). */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3_600_000;

export interface AttemptDeps {
  em: EntityManager;
  config: Config;
  temporal: TemporalHandle;
  log: Logger;
  /** In [0, 1): the jitter's dice. */
  random?: () => number;
}

/**
 * The body every endpoint receives, per the Standard Webhooks payload format. It depends only on
 * the stored event, so every retry sends byte-for-byte the same body under the same `webhook-id`.
 */
export function webhookBody(type: string, createdAt: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: createdAt.toISOString(), data });
}

/**
 * One attempt of one delivery: read the event and endpoint, sign, POST, record, decide.
 * A paused endpoint: the delivery is held (`paused`, its workflow ends) as the events published
 * while paused are, and Resume sends it or skips it (core/webhooks/held.ts). A disabled or deleted
 * endpoint: it ends `skipped` without a request (POST /webhooks/{id}/recover can send it later).
 */
export async function deliverAttempt(deps: AttemptDeps, input: AttemptInput): Promise<AttemptOutcome> {
  // Workflow history holds the delivery's id only: this one read learns its workspace from the row
  // (event and endpoint joined on the delivery's own), and every write after it is scoped by it.
  const row = await typedDb(deps.em)
    .selectFrom('webhook_delivery as d')
    .innerJoin('event as e', (j) => j.onRef('e.id', '=', 'd.event_id').onRef('e.workspace_id', '=', 'd.workspace_id'))
    .innerJoin('webhook_endpoint as ep', (j) => j.onRef('ep.id', '=', 'd.endpoint_id').onRef('ep.workspace_id', '=', 'd.workspace_id'))
    .select((eb) => [
      'd.id as delivery_id',
      'd.status as delivery_status',
      'd.workspace_id',
      'e.id as event_id',
      'e.type as event_type',
      'e.payload',
      'e.created_at as event_created_at',
      'ep.id as endpoint_id',
      'ep.url',
      'ep.status as endpoint_status',
      'ep.secret_ciphertext',
      'ep.previous_secret_ciphertext',
      eb.fn.coalesce(eb('ep.previous_secret_expires_at', '>', sql<Date>`now()`), eb.lit(false)).as('previous_live'),
      'ep.first_failure_at',
    ])
    .where('d.id', '=', input.deliveryId)
    .executeTakeFirst();
  if (!row) return { status: 'skipped' };
  const scope = workspaceScope(deps.em, row.workspace_id);
  if (row.endpoint_status !== 'active') {
    const status = row.endpoint_status === 'paused' ? 'paused' : 'skipped';
    await scope
      .updateTable('webhook_delivery')
      .set({ status, next_attempt_at: null, updated_at: sql<Date>`now()` })
      .where('id', '=', row.delivery_id)
      .execute();
    publishAttempt({ outcome: status });
    return { status };
  }

  const box = { em: deps.em, secretKey: deps.config.GATEHOUSE_SECRET_KEY };
  const secrets = [await open(box, row.secret_ciphertext, row.endpoint_id)];
  if (row.previous_live && row.previous_secret_ciphertext) secrets.push(await open(box, row.previous_secret_ciphertext, row.endpoint_id));
  const body = webhookBody(row.event_type, new Date(row.event_created_at), row.payload);
  const attemptedAt = new Date();
  const headers = signedHeaders(secrets, row.event_id, Math.floor(attemptedAt.getTime() / 1000), body);
  const result = await postWebhook(row.url, headers, body, { timeoutMs: input.attemptTimeoutMs, allowCidrs: deps.config.GATEHOUSE_EGRESS_ALLOW_CIDRS });

  const ok = result.statusCode >= 200 && result.statusCode < 300;
  const gone = result.statusCode === 410;
  let outcome: AttemptOutcome;
  if (ok) outcome = { status: 'succeeded' };
  else if (gone) outcome = { status: 'failed' };
  else {
    const delay = calculateRetryDelay(input.scheduleMs, input.attempt, parseRetryAfter(result.retryAfter, Date.now()), (deps.random ?? Math.random)());
    outcome = delay === undefined ? { status: 'failed' } : { status: 'retrying', nextDelayMs: delay };
  }

  const disableReason = gone
    ? 'The endpoint answered 410 Gone'
    : !ok && row.first_failure_at && attemptedAt.getTime() - new Date(row.first_failure_at).getTime() >= DISABLE_AFTER_FAILING_MS
      ? 'Every delivery attempt failed for 5 days'
      : undefined;

  // The attempt, the delivery and the endpoint in one statement (atomic on its own): a round trip
  // per statement was most of what an attempt cost PostgreSQL and the worker (bench/webhooks.ts).
  const record = async (em: EntityManager) => {
    const emScope = workspaceScope(em, row.workspace_id);
    await typedDb(em)
      .with('delivery', () =>
        emScope
          .updateTable('webhook_delivery')
          .set((eb) => ({
            attempt_count: eb('attempt_count', '+', 1),
            status: outcome.status,
            last_attempt_at: attemptedAt,
            next_attempt_at: outcome.status === 'retrying' ? new Date(attemptedAt.getTime() + outcome.nextDelayMs) : null,
            updated_at: sql<Date>`now()`,
          }))
          .where('id', '=', row.delivery_id)
          .returning('id'),
      )
      .with('endpoint', () =>
        emScope
          .updateTable('webhook_endpoint')
          .set((eb) => ({
            last_triggered_at: attemptedAt,
            first_failure_at: ok ? null : eb.fn.coalesce('first_failure_at', eb.val(attemptedAt)),
          }))
          .where('id', '=', row.endpoint_id)
          .returning('id'),
      )
      // Every part of one statement sees the same snapshot: the attempt is numbered from the count before this update.
      .insertInto('webhook_attempt')
      .columns(['id', 'delivery_id', 'attempt_number', 'trigger', 'status_code', 'duration_ms', 'response_excerpt', 'error', 'attempted_at'])
      .expression(
        emScope
          .selectFrom('webhook_delivery')
          .select((eb) => [
            eb.val(newId('atp', 12)).as('id'),
            'id as delivery_id',
            eb('attempt_count', '+', 1).as('attempt_number'),
            eb.val(input.trigger).as('trigger'),
            eb.val(result.statusCode).as('status_code'),
            eb.val(result.durationMs).as('duration_ms'),
            eb.val(result.responseExcerpt).as('response_excerpt'),
            eb.val(errorText(result, ok)).as('error'),
            eb.val(attemptedAt).as('attempted_at'),
          ])
          .where('id', '=', row.delivery_id),
      )
      .execute();
  };
  // Told once the attempt is recorded: an activity retried after a failed write is not counted twice.
  const observed = () => publishAttempt({ outcome: outcome.status, statusCode: result.statusCode, durationMs: result.durationMs, eventCreatedAt: new Date(row.event_created_at) });
  if (!disableReason) {
    await record(deps.em);
    observed();
    return outcome;
  }

  const disabled = await deps.em.transactional(async (tx) => {
    await record(tx);
    const changed = await workspaceScope(tx, row.workspace_id)
      .updateTable('webhook_endpoint')
      .set({ status: 'disabled', disabled_reason: disableReason, disabled_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where('id', '=', row.endpoint_id)
      .where('status', '<>', 'disabled')
      .returning('id')
      .executeTakeFirst();
    if (!changed) return false;
    await raiseEvent(
      { em: tx, temporal: deps.temporal, log: deps.log },
      {
        workspaceId: row.workspace_id,
        type: 'webhook.endpoint.disabled',
        source: 'gatehouse',
        idempotencyKey: `webhook.endpoint.disabled:${row.endpoint_id}:${attemptedAt.toISOString()}`,
        payload: { workspace_id: row.workspace_id, endpoint_id: row.endpoint_id, url: row.url, reason: disableReason, disabled_at: attemptedAt.toISOString() },
      },
    );
    return true;
  });
  if (disabled) deps.log.warn({ endpointId: row.endpoint_id, reason: disableReason }, 'webhook endpoint disabled');
  observed();
  return outcome;
}

function errorText(result: PostResult, ok: boolean): string | null {
  if (result.error) return result.error.slice(0, 1000);
  if (ok) return null;
  if (result.statusCode >= 300 && result.statusCode < 400) return `redirect (${result.statusCode}) not followed: a webhook endpoint must answer 2xx itself`;
  if (result.statusCode === 410) return 'endpoint answered 410 Gone: endpoint disabled';
  return `endpoint answered ${result.statusCode}`;
}
