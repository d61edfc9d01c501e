import type { EntityManager } from '@mikro-orm/postgresql';
import { loadEffectiveLimits } from '../plans/load.js';

const DAY = 86_400_000;

/**
 * The oldest time a workspace's logs may show: its plan's log retention (or its override's), else
 * undefined (the global retention, which pruning enforces). Records past it are hidden at once, before
 * the monthly prune removes them.
 */
export async function logRetentionCutoff(em: EntityManager, workspaceId: string, now = Date.now()): Promise<Date | undefined> {
  const days = (await loadEffectiveLimits(em, workspaceId)).logRetentionDays;
  return days === null ? undefined : new Date(now - days * DAY);
}
