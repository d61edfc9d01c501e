import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import type { Logger } from '../log.js';
import type { TemporalHandle } from '../../temporal/client.js';
import { raiseEvent } from '../events.js';
import type { EventPayload } from '../events/catalog.js';

/** What one verification saw of a key's limits, right after it was counted. */
export interface LimitObservation {
  workspaceId: string;
  keyId: string;
  /** The limit verify reported: the one that refused, else the one with least room left (`name` since plans: `plan:60s` is a plan's ceiling). */
  ratelimit?: { name?: string; limit: number; remaining: number; reset: number } | null;
  /** Credits left after this call; null or absent for an unmetered key. */
  credits?: number | null;
}

export type WarningType = 'usage.rate_limit.approaching' | 'usage.rate_limit.exceeded' | 'credits.low';

interface RateWarning {
  workspaceId: string;
  keyId: string;
  type: WarningType;
  name?: string;
  limit: number;
  remaining: number;
  reset: number;
}

export const APPROACHING_RATIO = 0.8;
const MAX_SEEN = 50_000;

/**
 * Watches verifications for a rate limit or credit quota crossing 80 % and 100 %, and raises
 * each warning once per key, limit and window. `observe()` runs on the request path and only
 * compares numbers; the events go out from `raisePending()` after each usage batch, with
 * idempotency keys that make the same crossing seen by several API processes one event.
 *
 * The quota of credits is the key's refill amount (the balance each day/month starts from);
 * a key without a refill has no known quota, so only its 100 % (no credits left) warning fires.
 */
export class LimitWatcher {
  private rate = new Map<string, RateWarning>();
  private credits = new Map<string, { workspaceId: string; keyId: string; remaining: number }>();
  private seen = new Set<string>();

  constructor(private readonly deps: { em: () => EntityManager; temporal: TemporalHandle; log: Logger }) {}

  observe(o: LimitObservation): void {
    const rl = o.ratelimit;
    if (rl && rl.limit > 0) {
      const used = rl.limit - Math.max(0, rl.remaining);
      if (used >= APPROACHING_RATIO * rl.limit) this.addRate(o, 'usage.rate_limit.approaching', rl);
      if (rl.remaining <= 0) this.addRate(o, 'usage.rate_limit.exceeded', rl);
    }
    if (o.credits !== null && o.credits !== undefined) {
      this.credits.set(`${o.workspaceId}\u0000${o.keyId}`, { workspaceId: o.workspaceId, keyId: o.keyId, remaining: o.credits });
    }
  }

  private addRate(o: LimitObservation, type: WarningType, rl: { name?: string; limit: number; remaining: number; reset: number }) {
    const id = `${o.workspaceId}\u0000${type}:${o.keyId}:${rl.limit}:${rl.reset}`;
    if (this.seen.has(id)) return;
    if (!this.rate.has(id)) this.rate.set(id, { workspaceId: o.workspaceId, keyId: o.keyId, type, name: rl.name, limit: rl.limit, remaining: rl.remaining, reset: rl.reset });
  }

  get waiting(): number {
    return this.rate.size + this.credits.size;
  }

  private remember(id: string) {
    // Bounded memory: forgetting only costs a repeat insert that the idempotency key absorbs.
    if (this.seen.size >= MAX_SEEN) this.seen.clear();
    this.seen.add(id);
  }

  /** Raises every warning observed since the last call; returns how many new events were stored. */
  async raisePending(): Promise<number> {
    const rate = [...this.rate.entries()];
    const credits = [...this.credits.values()];
    this.rate.clear();
    this.credits.clear();
    if (rate.length === 0 && credits.length === 0) return 0;
    const em = this.deps.em();
    const wanted = [...rate.map(([, w]) => w), ...credits];
    // One query for the keys of every workspace this process saw, each (workspace, key id) pair
    // matched exactly: a key id is only unique within its workspace.
    const pairs = sql<{ w: string; i: string }>`unnest(${wanted.map((w) => w.workspaceId)}::text[], ${wanted.map((w) => w.keyId)}::text[])`;
    const rows = await typedDb(em)
      .selectFrom('api_key as k')
      .innerJoin(pairs.as<'u'>(sql`u(w, i)`), (join) => join.onRef('k.workspace_id', '=', 'u.w').onRef('k.id', '=', 'u.i'))
      .select(['k.workspace_id', 'k.id', 'k.rate_limits', 'k.credits_refill_amount', 'k.credits_refill_interval', 'k.credits_refilled_at', 'k.created_at'])
      .execute();
    const keys = new Map(rows.map((r) => [`${r.workspace_id}\u0000${r.id}`, r]));

    let raised = 0;
    const raise = async <T extends WarningType>(workspaceId: string, type: T, idempotencyKey: string, payload: EventPayload<T>) => {
      const ev = await raiseEvent({ em, temporal: this.deps.temporal }, { workspaceId, type, payload, idempotencyKey, source: 'gatehouse' });
      if (ev.created) raised++;
    };

    for (const [id, w] of rate) {
      const key = keys.get(`${w.workspaceId}\u0000${w.keyId}`);
      if (!key) continue;
      const limit = (key.rate_limits ?? []).find((l) => (w.name ? l.name === w.name : l.limit === w.limit));
      // Not one of the key's own: a plan's per-key ceiling, named for its window (`plan:3600s`).
      const ceiling = !limit && w.name ? /^plan:(\d+)s$/.exec(w.name) : null;
      const windowSeconds = limit?.windowSeconds ?? (ceiling ? Number(ceiling[1]) : null);
      const name = limit?.name ?? w.name ?? `limit-${w.limit}`;
      const windowStart = windowSeconds ? new Date(w.reset - windowSeconds * 1000).toISOString() : null;
      try {
        await raise(w.workspaceId, w.type, `${w.type}:${w.keyId}:${name}:${w.reset}`, {
          key_id: w.keyId,
          limit_name: name,
          limit: w.limit,
          window_seconds: windowSeconds,
          window_start: windowStart,
          reset_at: new Date(w.reset).toISOString(),
          used: w.limit - Math.max(0, w.remaining),
          remaining: Math.max(0, w.remaining),
          threshold: w.type === 'usage.rate_limit.exceeded' ? 100 : 80,
        });
        this.remember(id);
      } catch (err) {
        this.deps.log.warn({ err, type: w.type }, 'limit warning not raised; it will be raised when seen again');
      }
    }

    for (const c of credits) {
      const key = keys.get(`${c.workspaceId}\u0000${c.keyId}`);
      if (!key) continue;
      const quota = key.credits_refill_amount;
      const period = new Date(key.credits_refilled_at ?? key.created_at).toISOString();
      const thresholds: (80 | 100)[] = [];
      if (quota && quota > 0 && quota - c.remaining >= APPROACHING_RATIO * quota) thresholds.push(80);
      if (c.remaining <= 0) thresholds.push(100);
      for (const threshold of thresholds) {
        const idempotencyKey = `credits.low:${c.keyId}:${threshold}:${period}`;
        const id = `${c.workspaceId}\u0000${idempotencyKey}`;
        if (this.seen.has(id)) continue;
        try {
          await raise(c.workspaceId, 'credits.low', idempotencyKey, {
            key_id: c.keyId,
            credits_remaining: Math.max(0, c.remaining),
            quota,
            refill_interval: key.credits_refill_interval,
            threshold,
            period_start: period,
          });
          this.remember(id);
        } catch (err) {
          this.deps.log.warn({ err }, 'credits.low not raised; it will be raised when seen again');
        }
      }
    }
    return raised;
  }
}
