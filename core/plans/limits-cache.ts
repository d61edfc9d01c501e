import type pg from 'pg';
import type { RateLimit } from '../../db/entities/api-key.js';
import type { PlanOverrides } from '../../db/entities/workspace.js';
import { effectiveLimits, UNLIMITED, workspaceRateLimits, type EffectiveLimits } from './effective.js';
import { planLimitsOf, type PlanLimitColumns } from './load.js';
import { PLAN_LIMITS_PREFIX, WORKSPACE_LIMITS_PREFIX } from './notify.js';

/** A workspace's limits as verification applies them, worked out once per load rather than per request. */
export interface WorkspaceLimits {
  workspaceId: string;
  limits: EffectiveLimits;
  /** The shared rate limits, named (`workspace:60s`) as the rate limiter and refusals take them. */
  rateLimits: RateLimit[];
  /** Anything beyond the keys' own limits to check: false for a workspace without a plan or overrides. */
  enforced: boolean;
}

export interface LimitsCacheOptions {
  maxEntries?: number;
  /** Ceiling on how long loaded limits are trusted; NOTIFY is what makes changes visible at once. */
  ttlMs?: number;
}

interface Entry {
  value: WorkspaceLimits;
  until: number;
}

/**
 * The workspace and its plan in one probe of each primary key. An unknown workspace (deleted while
 * its keys are cached) has no limits of its own: its keys are refused by their own checks.
 */
// raw SQL: the verify path's per-workspace limits load on the verifier's own pg pool, once per workspace per cache life (measured in BENCHMARKS.md)
export const WORKSPACE_LIMITS_SQL = `
  select w.plan_id, w.overrides, p.id, p.name, p.key_rate_limits, p.workspace_rate_limits, p.monthly_calls, p.monthly_credits,
         p.max_keys, p.max_webhook_endpoints, p.grantable_scopes, p.log_retention_days
    from workspace w left join plan p on p.id = w.plan_id
   where w.id = $1`;

type LimitsRow = { plan_id: string | null; overrides: PlanOverrides | null } & (PlanLimitColumns | { [K in keyof PlanLimitColumns]: null });

export function toWorkspaceLimits(workspaceId: string, row: LimitsRow | undefined): WorkspaceLimits {
  if (!row) return { workspaceId, limits: UNLIMITED, rateLimits: [], enforced: false };
  const plan = row.id === null ? null : planLimitsOf(row);
  const limits = effectiveLimits(plan, row.overrides ?? {});
  const rateLimits = workspaceRateLimits(limits);
  const enforced = limits.keyRateLimits.length > 0 || rateLimits.length > 0 || limits.monthlyCalls !== null || limits.monthlyCredits !== null;
  return { workspaceId, limits, rateLimits, enforced };
}

/**
 * Each workspace's effective limits for the verifier, by workspace id. Loaded once on the
 * verifier's pool, then answered from memory: a workspace without a plan costs a map look-up per
 * verification and no query. Invalidated by the key-change channel's `workspace:<id>` (plan or
 * overrides assigned) and `plan:<id>` (a plan edited) payloads, and cleared, like the key cache,
 * whenever the listener reconnects. The same epoch guard keeps a load that raced a change out.
 */
export class WorkspaceLimitsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, { epoch: number; promise: Promise<WorkspaceLimits> }>();
  private epoch = 0;
  /** False while the change listener is down. */
  enabled = false;
  readonly maxEntries: number;
  readonly ttlMs: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly onQuery: () => void = () => {},
    opts: LimitsCacheOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** What is cached for the workspace now, without loading (tests wait on a notification with it). */
  peek(workspaceId: string): WorkspaceLimits | undefined {
    return this.entries.get(workspaceId)?.value;
  }

  get(workspaceId: string, now = Date.now()): WorkspaceLimits | Promise<WorkspaceLimits> {
    if (this.enabled) {
      const hit = this.entries.get(workspaceId);
      if (hit) {
        if (hit.until > now) return hit.value;
        this.entries.delete(workspaceId);
      }
    }
    const pending = this.inflight.get(workspaceId);
    if (pending && pending.epoch === this.epoch) return pending.promise;
    const epoch = this.epoch;
    const p = this.load(workspaceId).then(
      (value) => {
        if (this.inflight.get(workspaceId)?.promise === p) this.inflight.delete(workspaceId);
        if (this.enabled && epoch === this.epoch) {
          if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
          this.entries.set(workspaceId, { value, until: Date.now() + this.ttlMs });
        }
        return value;
      },
      (err: unknown) => {
        if (this.inflight.get(workspaceId)?.promise === p) this.inflight.delete(workspaceId);
        throw err;
      },
    );
    this.inflight.set(workspaceId, { epoch, promise: p });
    return p;
  }

  private async load(workspaceId: string): Promise<WorkspaceLimits> {
    this.onQuery();
    const res = await this.pool.query<LimitsRow>(WORKSPACE_LIMITS_SQL, [workspaceId]);
    return toWorkspaceLimits(workspaceId, res.rows[0]);
  }

  /**
   * A key-change payload: true when it named a workspace's or a plan's limits (and was handled
   * here), false when it is a key's pk for the key cache.
   */
  onChange(payload: string): boolean {
    if (payload.startsWith(WORKSPACE_LIMITS_PREFIX)) {
      this.epoch++;
      this.entries.delete(payload.slice(WORKSPACE_LIMITS_PREFIX.length));
      return true;
    }
    if (payload.startsWith(PLAN_LIMITS_PREFIX)) {
      this.epoch++;
      const planId = payload.slice(PLAN_LIMITS_PREFIX.length);
      for (const [id, e] of this.entries) if (e.value.limits.planId === planId) this.entries.delete(id);
      return true;
    }
    return false;
  }

  clear() {
    this.epoch++;
    this.entries.clear();
  }
}
