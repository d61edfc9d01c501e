import { Context } from '@temporalio/activity';
import type { EntityManager } from '@mikro-orm/postgresql';
import { raiseKeyReminders, type ReminderCounts } from '../core/keys/reminders.js';
import {
  revokeRetiredSecrets,
  setRetiredSecretsExpiry,
  sweepExpiredRetiredSecrets,
  type RetiredSecretsInput,
} from '../core/keys/rotation/retired-secrets.js';
import type { ActivityDeps } from './index.js';

/**
 * Rotation and reminder activities. Inputs and outputs are ids, counts and times only: what
 * goes in and out of an activity is written to workflow history.
 */
export function createKeyActivities({ orm, temporal, log }: Pick<ActivityDeps, 'orm' | 'temporal' | 'log'>) {
  const fork = () => orm.em.fork() as EntityManager;
  return {
    async revokeRetiredSecrets(input: RetiredSecretsInput): Promise<{ revoked: number; revokedAt: string }> {
      return revokeRetiredSecrets({ em: fork(), temporal, log }, input);
    },

    async setRetiredSecretsExpiry(input: RetiredSecretsInput & { expiresAt: string }): Promise<{ updated: number }> {
      return setRetiredSecretsExpiry(fork(), input);
    },

    async raiseKeyReminders(input: { withinDays: number }): Promise<ReminderCounts> {
      return raiseKeyReminders({ em: fork(), temporal, log }, { withinDays: input.withinDays, onPage: heartbeat });
    },

    async sweepExpiredRetiredSecrets(): Promise<{ revoked: number }> {
      return sweepExpiredRetiredSecrets({ em: fork(), temporal, log }, { onProgress: heartbeat });
    },
  };
}

function heartbeat() {
  // Outside an activity (a direct call from a test) there is no context to heartbeat to.
  try {
    Context.current().heartbeat();
  } catch {
    // not running as an activity
  }
}
