import type { EntityManager } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import type { Orm } from '../../db/orm.js';
import type { Logger } from '../log.js';

/**
 * Gauges read from PostgreSQL when Prometheus scrapes: the whole installation's state, so they
 * live in the worker (which runs the outbox sweeper and the rotation workflows), not in each API
 * process, where N processes would run the same counts N times. A failed count leaves the series
 * out of that scrape rather than failing it.
 */
export function observeBacklog(orm: Orm, registry: Registry, log: Logger): void {
  const db = () => typedDb(orm.em.fork() as EntityManager);
  const guarded = async (what: string, count: () => Promise<number>, set: (n: number) => void) => {
    try {
      set(await count());
    } catch (err) {
      log.warn({ err, what }, 'metrics: count failed');
    }
  };
  new Gauge({
    name: 'gatehouse_webhook_outbox_backlog_events',
    help: 'Events stored whose fan-out to endpoints has not started yet (every workspace)',
    registers: [registry],
    async collect() {
      // Every workspace's undispatched events, as the outbox sweeper reads them: the operator's figure.
      await guarded(
        'outbox backlog',
        async () => Number((await db().selectFrom('event').select((eb) => eb.fn.countAll<string>().as('n')).where('dispatched_at', 'is', null).executeTakeFirstOrThrow()).n),
        (n) => this.set(n),
      );
    },
  });
  new Gauge({
    name: 'gatehouse_key_rotations_in_grace',
    help: "Keys whose previous secret still works: a rotation's grace period is running",
    registers: [registry],
    async collect() {
      await guarded(
        'rotations in grace',
        async () =>
          Number(
            (
              await db()
                .selectFrom('api_key_secret')
                .select((eb) => eb.fn.count<string>('api_key_pk').distinct().as('n'))
                .where('revoked_at', 'is', null)
                .where('expires_at', '>', sql<Date>`now()`)
                .executeTakeFirstOrThrow()
            ).n,
          ),
        (n) => this.set(n),
      );
    },
  });
}
