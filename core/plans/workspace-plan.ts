import type { EntityManager } from '@mikro-orm/postgresql';
import { json, typedDb } from '../../db/kysely.js';
import type { PlanOverrides } from '../../db/entities/workspace.js';
import { recordAudit, type AuditActor } from '../audit.js';
import { badRequest, notFound } from '../errors.js';
import { workspaceScope } from '../scope.js';
import { thisMonth, totals } from '../usage/queries.js';
import { getWorkspace, type WorkspaceView } from '../workspaces.js';
import { effectiveLimits, LIMIT_FIELDS, monthBounds, type EffectiveLimits } from './effective.js';
import { planLimitsOf } from './load.js';
import { notifyWorkspaceLimitsChanged } from './notify.js';
import type { OverridesInput } from './schema.js';

/** At this share of the monthly quota `usage.quota.approaching` fires and the state says so. */
export const APPROACHING_SHARE = 0.8;

export type QuotaState = 'ok' | 'approaching' | 'exceeded';

export interface MonthUsage {
  /** `2026-12`: the UTC month counted. */
  month: string;
  calls: number;
  credits: number;
  /** The effective monthly call quota; null = unlimited. */
  quota: number | null;
  creditsGrant: number | null;
  /** When the month's counts start again (the next month's first instant, UTC). */
  resetAt: string;
  quotaState: QuotaState;
}

/** A workspace with its plan, its exceptions and the limits they amount to, and this month's use of them. */
export interface WorkspaceDetail extends WorkspaceView {
  planId: string | null;
  planName: string | null;
  overrides: PlanOverrides;
  limits: EffectiveLimits;
  month: MonthUsage;
}

export function quotaState(calls: number, quota: number | null): QuotaState {
  if (quota === null) return 'ok';
  if (calls >= quota) return 'exceeded';
  return calls >= quota * APPROACHING_SHARE ? 'approaching' : 'ok';
}

const monthKey = (d: Date) => d.toISOString().slice(0, 7);

/**
 * This month's calls as the quota counts them (workspace_quota, charged at verification); a
 * workspace without a quota row yet (no plan quota, or no call this month) shows the usage
 * rollups' count instead, so the figure is never a misleading 0.
 */
async function monthUsage(em: EntityManager, workspaceId: string, limits: EffectiveLimits, now = new Date()): Promise<MonthUsage> {
  const { start, end } = monthBounds(now.getTime());
  const row = await workspaceScope(em, workspaceId)
    .selectFrom('workspace_quota')
    .select(['calls', 'credits'])
    .where('month', '=', start.toISOString().slice(0, 10))
    .executeTakeFirst();
  const calls = row ? Number(row.calls) : (await totals(em, workspaceId, thisMonth(now))).calls;
  return {
    month: monthKey(start),
    calls,
    credits: row ? Number(row.credits) : 0,
    quota: limits.monthlyCalls,
    creditsGrant: limits.monthlyCredits,
    resetAt: end.toISOString(),
    quotaState: quotaState(calls, limits.monthlyCalls),
  };
}

/** The workspace table is the tenants themselves and plans the provider's: no workspace scope applies. */
async function planAndOverrides(em: EntityManager, workspaceId: string) {
  const ws = await typedDb(em).selectFrom('workspace').select(['plan_id', 'overrides']).where('id', '=', workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace', workspaceId);
  const plan = ws.plan_id ? await typedDb(em).selectFrom('plan').selectAll().where('id', '=', ws.plan_id).executeTakeFirst() : undefined;
  const overrides = ws.overrides ?? {};
  return { plan, overrides, limits: effectiveLimits(plan ? planLimitsOf(plan) : null, overrides) };
}

export async function workspaceDetail(em: EntityManager, workspaceId: string): Promise<WorkspaceDetail> {
  const workspace = await getWorkspace(em, workspaceId);
  const { plan, overrides, limits } = await planAndOverrides(em, workspaceId);
  return { ...workspace, planId: plan?.id ?? null, planName: plan?.name ?? null, overrides, limits, month: await monthUsage(em, workspaceId, limits) };
}

export interface UpdateWorkspacePlanInput {
  id: string;
  /** A plan id, or null for none (unlimited); omitted: unchanged. */
  plan?: string | null;
  /** Replaces every exception ({} clears them); omitted: unchanged. */
  overrides?: OverridesInput;
}

/** Stored form of overrides: only the fields given; a list lifted with null is stored as the empty list it amounts to. */
function storedOverrides(input: OverridesInput): PlanOverrides {
  const out: PlanOverrides = {};
  for (const field of LIMIT_FIELDS) {
    if (!Object.hasOwn(input, field) || input[field] === undefined) continue;
    const value = input[field];
    (out[field] as unknown) = value === null && (field === 'keyRateLimits' || field === 'workspaceRateLimits') ? [] : value;
  }
  return out;
}

/**
 * Assigns a plan and/or replaces the workspace's exceptions (an operator's act). The new limits
 * apply at once: every API process hears of them when the transaction commits. A quota below this
 * month's calls is allowed (the provider decides) and the answer's notes say what it means.
 */
export async function updateWorkspacePlan(em: EntityManager, actor: AuditActor, input: UpdateWorkspacePlanInput): Promise<WorkspaceDetail & { notes: string[] }> {
  return em.transactional(async (tx) => {
    const ws = await typedDb(tx).selectFrom('workspace').select(['id', 'plan_id', 'overrides']).where('id', '=', input.id).forNoKeyUpdate().executeTakeFirst();
    if (!ws) throw notFound('Workspace', input.id);
    const set: { plan_id?: string | null; overrides?: ReturnType<typeof json<PlanOverrides>> } = {};
    if (input.plan !== undefined && input.plan !== ws.plan_id) {
      if (input.plan !== null) {
        const exists = await typedDb(tx).selectFrom('plan').select('id').where('id', '=', input.plan).executeTakeFirst();
        if (!exists) throw badRequest(`plan: there is no plan '${input.plan}'; GET /plans lists them (null for no plan)`, 'plan');
      }
      set.plan_id = input.plan;
      await recordAudit(tx, actor, { workspaceId: ws.id, action: 'workspace.plan_changed', targetType: 'workspace', targetId: ws.id, changes: { plan: { from: ws.plan_id, to: input.plan } } });
    }
    if (input.overrides !== undefined) {
      const next = storedOverrides(input.overrides);
      const before = ws.overrides ?? {};
      if (JSON.stringify(next) !== JSON.stringify(before)) {
        set.overrides = json(next);
        await recordAudit(tx, actor, {
          workspaceId: ws.id,
          action: 'workspace.overrides_changed',
          targetType: 'workspace',
          targetId: ws.id,
          changes: { overrides: { from: auditOverrides(before), to: auditOverrides(next) } },
        });
      }
    }
    if (Object.keys(set).length > 0) {
      await typedDb(tx).updateTable('workspace').set(set).where('id', '=', ws.id).execute();
      await notifyWorkspaceLimitsChanged(tx, ws.id);
    }
    const detail = await workspaceDetail(tx, ws.id);
    return { ...detail, notes: notesOn(detail) };
  });
}

/** Overrides in the REST API's words, as every audit entry names fields. */
function auditOverrides(o: PlanOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const value = Array.isArray(v) && (k === 'keyRateLimits' || k === 'workspaceRateLimits') ? v.map((l: { limit: number; windowSeconds: number }) => ({ limit: l.limit, window_seconds: l.windowSeconds })) : v;
    out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out;
}

/** What the caller should know about the limits it just set. */
function notesOn(d: WorkspaceDetail): string[] {
  const notes: string[] = [];
  const { quota, calls, month } = d.month;
  if (quota !== null && calls >= quota) {
    notes.push(
      `The monthly call quota (${quota}) is at or below this month's ${calls} calls: it takes effect at once, so verifications answer USAGE_EXCEEDED until ${month} ends or the quota is raised.`,
    );
  } else if (quota !== null && calls >= quota * APPROACHING_SHARE) {
    notes.push(`This month's ${calls} calls are already ${Math.floor((calls / quota) * 100)} % of the new monthly call quota (${quota}).`);
  }
  return notes;
}
