import { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import { deliverAttempt, type AttemptInput, type AttemptOutcome } from '../core/webhooks/attempt.js';
import { startDeliveryWorkflow, startFanout } from '../core/webhooks/dispatch.js';
import { ATTEMPT_TIMEOUT_MS } from '../core/webhooks/http.js';
import { parseRetrySchedule } from '../core/webhooks/retry.js';
import { countRecoverable, replayRecoverablePage, type RecoverPageInput } from '../core/webhooks/recovery.js';
import { typedDb } from '../db/kysely.js';
import type { Orm } from '../db/orm.js';
import { workspaceScope } from '../core/scope.js';
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
    /**
     * Starts the delivery workflow of each of the event's `pending` deliveries, then marks the event
     * dispatched. One whose workflow is running is left to it; one whose workflow ended while it is
     * still `pending` (held by a paused endpoint mid-way, then released by a resume) gets a new run.
     */
    async dispatchEvent(eventId: string): Promise<{ deliveries: number; started: number }> {
      const db = em();
      // The fan-out is given the event's id only: its workspace comes from the row, and scopes what follows.
      const event = await typedDb(db).selectFrom('event').select(['workspace_id', 'type']).where('id', '=', eventId).executeTakeFirst();
      if (!event) throw ApplicationFailure.retryable(`event ${eventId} is not visible yet`, 'EventNotFound');
      const scope = workspaceScope(db, event.workspace_id);
      const pending = await scope
        .selectFrom('webhook_delivery')
        .select(['id', 'endpoint_id'])
        .where('event_id', '=', eventId)
        .where('status', '=', 'pending')
        .orderBy('id')
        .execute();
      let started = 0;
      for (let i = 0; i < pending.length; i += START_CONCURRENCY) {
        const batch = pending.slice(i, i + START_CONCURRENCY);
        const results = await Promise.all(
          batch.map((d) =>
            startDeliveryWorkflow(
              deps.temporal,
              { deliveryId: d.id, eventId, endpointId: d.endpoint_id, workspaceId: event.workspace_id, eventType: event.type },
              { trigger: 'scheduled', scheduleMs: schedule, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, rerun: true },
            ),
          ),
        );
        started += results.filter(Boolean).length;
        ActivityContext.current().heartbeat(i);
      }
      await scope.updateTable('event').set({ dispatched_at: sql<Date>`now()` }).where('id', '=', eventId).where('dispatched_at', 'is', null).execute();
      return { deliveries: pending.length, started };
    },

    async attemptDelivery(input: AttemptInput): Promise<AttemptOutcome> {
      return deliverAttempt(core(), input);
    },

    /** Fans out events stored more than `olderThanMs` ago whose fan-out never started. */
    async sweepOutbox(olderThanMs: number): Promise<{ dispatched: number }> {
      // Every workspace's undispatched events: the sweeper is the operator's safety net, not a workspace's read.
      const rows = await typedDb(em())
        .selectFrom('event')
        .select(['id', 'workspace_id', 'type'])
        .where('dispatched_at', 'is', null)
        .where('created_at', '<', sql<Date>`now() - (${olderThanMs} * interval '1 millisecond')`)
        .orderBy('created_at')
        .limit(500)
        .execute();
      for (const r of rows) await startFanout(deps.temporal, { id: r.id, workspaceId: r.workspace_id, type: r.type });
      if (rows.length) deps.log.info({ events: rows.length }, 'outbox sweeper started fan-outs for undispatched events');
      return { dispatched: rows.length };
    },

    async countRecoverable(input: RecoverInput): Promise<number> {
      return countRecoverable(em(), input);
    },

    async replayRecoverablePage(input: RecoverPageInput): Promise<{ replayed: number; retriedNow?: number; next?: { createdAt: string; id: string } }> {
      return replayRecoverablePage({ ...core(), schedule }, input);
    },
  };
}
