import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { workspaceScope } from '../scope.js';
import { raiseEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { monthBounds } from './effective.js';
import { loadEffectiveLimits } from './load.js';
import { monthKey } from './quota.js';

/** What a verification reported of its workspace's monthly allowance (VerifyResult['quota']). */
export interface QuotaSeen {
  name: string;
  limit: number;
  remaining: number;
  reset: number;
}

type Threshold = 80 | 100;

interface Pending {
  workspaceId: string;
  /** First day of the month, `2026-12-01`. */
  month: string;
  threshold: Threshold;
  limit: number;
  reset: number;
}

export const QUOTA_APPROACHING_RATIO = 0.8;
const MAX_SEEN = 50_000;

/**
 * Watches verifications for a workspace's monthly call quota crossing 80 % and 100 %, and raises
 * `usage.quota.approaching` / `usage.quota.exceeded` once per workspace and month. `observe()` runs
 * on the request path and only compares numbers; `raisePending()` runs after each usage batch
 * (as core/usage/limits.ts does for key limits) and claims each warning with a conditional update
 * of the month's row (`approaching_at` / `exceeded_at` still null → now), in the transaction that
 * stores the event: however many API processes see the crossing, one of them raises it.
 */
export class QuotaWatcher {
  private pending = new Map<string, Pending>();
  private seen = new Set<string>();

  constructor(private readonly deps: { em: () => EntityManager; temporal: TemporalHandle; log: Logger }) {}

  observe(workspaceId: string, q: QuotaSeen): void {
    if (q.name !== 'monthly_calls' || q.limit <= 0) return;
    const used = q.limit - Math.max(0, q.remaining);
    if (used >= QUOTA_APPROACHING_RATIO * q.limit) this.add(workspaceId, 80, q);
    if (q.remaining <= 0) this.add(workspaceId, 100, q);
  }

  private add(workspaceId: string, threshold: Threshold, q: QuotaSeen) {
    const month = monthKey(monthBounds(q.reset - 1).start);
    const id = `${workspaceId}\u0000${month}\u0000${threshold}`;
    if (this.seen.has(id) || this.pending.has(id)) return;
    this.pending.set(id, { workspaceId, month, threshold, limit: q.limit, reset: q.reset });
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** Raises every warning observed since the last call; returns how many events were stored. */
  async raisePending(): Promise<number> {
    const pending = [...this.pending.entries()];
    this.pending.clear();
    let raised = 0;
    for (const [id, p] of pending) {
      try {
        if (await this.raise(p)) raised++;
        if (this.seen.size >= MAX_SEEN) this.seen.clear();
        this.seen.add(id);
      } catch (err) {
        this.deps.log.warn({ err, workspaceId: p.workspaceId, threshold: p.threshold }, 'quota warning not raised; it will be raised when seen again');
      }
    }
    return raised;
  }

  private raise(p: Pending): Promise<boolean> {
    const column = p.threshold === 100 ? 'exceeded_at' : 'approaching_at';
    return this.deps.em().transactional(async (em) => {
      const claimed = await workspaceScope(em, p.workspaceId)
        .updateTable('workspace_quota')
        .set({ [column]: sql<Date>`now()` })
        .where('month', '=', p.month)
        .where(column, 'is', null)
        .returning(['calls'])
        .executeTakeFirst();
      if (!claimed) return false;
      const limits = await loadEffectiveLimits(em, p.workspaceId);
      const used = Math.min(p.limit, Number(claimed.calls));
      const type = p.threshold === 100 ? 'usage.quota.exceeded' : 'usage.quota.approaching';
      await raiseEvent(
        { em, temporal: this.deps.temporal, log: this.deps.log },
        {
          workspaceId: p.workspaceId,
          type,
          idempotencyKey: `${type}:${p.month.slice(0, 7)}`,
          source: 'gatehouse',
          payload: {
            workspace_id: p.workspaceId,
            plan_id: limits.planId,
            month: p.month.slice(0, 7),
            limit: p.limit,
            used,
            remaining: p.limit - used,
            reset_at: new Date(p.reset).toISOString(),
            threshold: p.threshold,
          },
        },
      );
      return true;
    });
  }
}
