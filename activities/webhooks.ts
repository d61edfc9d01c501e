import { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { deliverAttempt, type AttemptInput, type AttemptOutcome } from '../core/webhooks/attempt.js';
import { startDeliveryWorkflow, startFanout } from '../core/webhooks/dispatch.js';
import { ATTEMPT_TIMEOUT_MS } from '../core/webhooks/http.js';
import { parseRetrySchedule } from '../core/webhooks/retry.js';
import { countRecoverable, replayRecoverablePage, type RecoverPageInput } from '../core/webhooks/recovery.js';
import type { Orm } from '../db/orm.js';
import type { TemporalHandle } from '../temporal/client.js';
import type { RecoverInput } from '../workflows/recover.js';

export interface WebhookActivityDeps {
  orm: Orm;
  log: Logger;
  config: Config;
  temporal: TemporalHandle;
}

/** Starts this many delivery workflows at once during a fan-out. */
const START_CONCURRENCY = 16;

export function createWebhookActivities(deps: WebhookActivityDeps) {
  const em = () => deps.orm.em.fork() as EntityManager;
  const schedule = parseRetrySchedule(deps.config.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE);
  const core = () => ({ em: em(), config: deps.config, temporal: deps.temporal, log: deps.log });

  return {
    /** Starts the delivery workflow of each of the event's deliveries not yet started, then marks the event dispatched. */
    async dispatchEvent(eventId: string): Promise<{ deliveries: number; started: number }> {
      const db = em();
      const events = await db.execute<{ workspace_id: string; type: string }[]>(`select workspace_id, type from event where id = ?`, [eventId]);
      const event = events[0];
      if (!event) throw ApplicationFailure.retryable(`event ${eventId} is not visible yet`, 'EventNotFound');
      const pending = await db.execute<{ id: string; endpoint_id: string }[]>(
        `select id, endpoint_id from webhook_delivery where event_id = ? and status = 'pending' and attempt_count = 0 order by id`,
        [eventId],
      );
      let started = 0;
      for (let i = 0; i < pending.length; i += START_CONCURRENCY) {
        const batch = pending.slice(i, i + START_CONCURRENCY);
        const results = await Promise.all(
          batch.map((d) =>
            startDeliveryWorkflow(
              deps.temporal,
              { deliveryId: d.id, eventId, endpointId: d.endpoint_id, workspaceId: event.workspace_id, eventType: event.type },
              { trigger: 'scheduled', scheduleMs: schedule, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
            ),
          ),
        );
        started += results.filter(Boolean).length;
        ActivityContext.current().heartbeat(i);
      }
      await db.execute(`update event set dispatched_at = now() where id = ? and dispatched_at is null`, [eventId]);
      return { deliveries: pending.length, started };
    },

    async attemptDelivery(input: AttemptInput): Promise<AttemptOutcome> {
      return deliverAttempt(core(), input);
    },

    /** Fans out events stored more than `olderThanMs` ago whose fan-out never started. */
    async sweepOutbox(olderThanMs: number): Promise<{ dispatched: number }> {
      const rows = await em().execute<{ id: string; workspace_id: string; type: string }[]>(
        `select id, workspace_id, type from event
          where dispatched_at is null and created_at < now() - (? * interval '1 millisecond')
          order by created_at limit 500`,
        [olderThanMs],
      );
      for (const r of rows) await startFanout(deps.temporal, { id: r.id, workspaceId: r.workspace_id, type: r.type });
      if (rows.length) deps.log.info({ events: rows.length }, 'outbox sweeper started fan-outs for undispatched events');
      return { dispatched: rows.length };
    },

    async countRecoverable(input: RecoverInput): Promise<number> {
      return countRecoverable(em(), input);
    },

    async replayRecoverablePage(input: RecoverPageInput): Promise<{ replayed: number; next?: { createdAt: string; id: string } }> {
      return replayRecoverablePage({ ...core(), schedule }, input);
    },
  };
}
