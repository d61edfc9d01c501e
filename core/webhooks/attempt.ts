import type { EntityManager } from '@mikro-orm/postgresql';
import { raiseEvent } from '../events.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import type { Config } from '../config.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { postWebhook, type PostResult } from './http.js';
import { calculateRetryDelay, parseRetryAfter } from './retry.js';
import { open } from './secret-box.js';
import { signedHeaders } from './signing.js';

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
  | { status: 'succeeded' | 'failed' | 'skipped' }
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

interface Row {
  delivery_id: string;
  delivery_status: string;
  workspace_id: string;
  event_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  event_created_at: Date;
  endpoint_id: string;
  url: string;
  endpoint_status: string;
  secret_ciphertext: string;
  previous_secret_ciphertext: string | null;
  previous_live: boolean;
  first_failure_at: Date | null;
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
 * Paused/disabled/deleted endpoints: the delivery ends `skipped` without a request — nothing is
 * queued behind a pause; after resuming, POST /webhooks/{id}/recover replays what was skipped.
 */
export async function deliverAttempt(deps: AttemptDeps, input: AttemptInput): Promise<AttemptOutcome> {
  const rows = await deps.em.execute<Row[]>(
    `select d.id as delivery_id, d.status as delivery_status, d.workspace_id, e.id as event_id, e.type as event_type, e.payload,
            e.created_at as event_created_at, ep.id as endpoint_id, ep.url, ep.status as endpoint_status, ep.secret_ciphertext,
            ep.previous_secret_ciphertext, coalesce(ep.previous_secret_expires_at > now(), false) as previous_live, ep.first_failure_at
       from webhook_delivery d join event e on e.id = d.event_id join webhook_endpoint ep on ep.id = d.endpoint_id
      where d.id = ?`,
    [input.deliveryId],
  );
  const row = rows[0];
  if (!row) return { status: 'skipped' };
  if (row.endpoint_status !== 'active') {
    await deps.em.execute(`update webhook_delivery set status = 'skipped', next_attempt_at = null, updated_at = now() where id = ?`, [row.delivery_id]);
    return { status: 'skipped' };
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
  const record = (em: EntityManager) =>
    em.execute(
      `with attempt as (
         insert into webhook_attempt (id, delivery_id, attempt_number, trigger, status_code, duration_ms, response_excerpt, error, attempted_at)
         select ?, d.id, d.attempt_count + 1, ?, ?, ?, ?, ?, ? from webhook_delivery d where d.id = ?
       ), delivery as (
         update webhook_delivery set attempt_count = attempt_count + 1, status = ?, last_attempt_at = ?,
                next_attempt_at = ?, updated_at = now() where id = ?
       )
       update webhook_endpoint set last_triggered_at = ?,
              first_failure_at = case when ? then null else coalesce(first_failure_at, ?) end
        where id = ?`,
      [
        newId('atp', 12), input.trigger, result.statusCode, result.durationMs, result.responseExcerpt, errorText(result, ok), attemptedAt, row.delivery_id,
        outcome.status, attemptedAt, outcome.status === 'retrying' ? new Date(attemptedAt.getTime() + outcome.nextDelayMs) : null, row.delivery_id,
        attemptedAt, ok, attemptedAt, row.endpoint_id,
      ],
    );
  if (!disableReason) {
    await record(deps.em);
    return outcome;
  }

  const disabled = await deps.em.transactional(async (tx) => {
    await record(tx);
    const changed = await tx.execute<{ id: string }[]>(
      `update webhook_endpoint set status = 'disabled', disabled_reason = ?, disabled_at = now(), updated_at = now()
        where id = ? and status <> 'disabled' returning id`,
      [disableReason, row.endpoint_id],
    );
    if (changed.length === 0) return false;
    await raiseEvent(
      { em: tx, temporal: deps.temporal, log: deps.log },
      {
        workspaceId: row.workspace_id,
        type: 'webhook.endpoint.disabled',
        source: 'gatehouse',
        idempotencyKey: `webhook.endpoint.disabled:${row.endpoint_id}:${attemptedAt.toISOString()}`,
        payload: { endpoint_id: row.endpoint_id, url: row.url, reason: disableReason, disabled_at: attemptedAt.toISOString() },
      },
    );
    return true;
  });
  if (disabled) deps.log.warn({ endpointId: row.endpoint_id, reason: disableReason }, 'webhook endpoint disabled');
  return outcome;
}

function errorText(result: PostResult, ok: boolean): string | null {
  if (result.error) return result.error.slice(0, 1000);
  if (ok) return null;
  if (result.statusCode >= 300 && result.statusCode < 400) return `redirect (${result.statusCode}) not followed: a webhook endpoint must answer 2xx itself`;
  if (result.statusCode === 410) return 'endpoint answered 410 Gone: endpoint disabled';
  return `endpoint answered ${result.statusCode}`;
}
