import type { EntityManager } from '@mikro-orm/postgresql';
import { Context } from '@temporalio/activity';
import { expireLimitRequests } from '../core/limits/expire.js';
import type { ActivityDeps } from './index.js';

/** Limit-request activities: the expiry sweep (counts in, counts out). */
export function createLimitActivities({ orm, temporal, log }: Pick<ActivityDeps, 'orm' | 'temporal' | 'log'>) {
  const fork = () => orm.em.fork() as EntityManager;
  return {
    async expireLimitRequests(): Promise<{ expired: number }> {
      let ctx: Context | undefined;
      try {
        ctx = Context.current();
      } catch {
        // Called directly (a test): nothing to heartbeat to.
      }
      return expireLimitRequests({ em: fork, temporal, log }, { onBatch: (n) => ctx?.heartbeat(n) });
    },
  };
}
