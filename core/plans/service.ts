import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { json, typedDb, type Row } from '../../db/kysely.js';
import { recordAudit, type AuditActor } from '../audit.js';
import { conflict, notFound } from '../errors.js';
import { planLimitsOf } from './load.js';
import { notifyPlanChanged } from './notify.js';
import type { CreatePlanInput, UpdatePlanFields } from './schema.js';

/** A plan as operators see it; null = unlimited. */
export type PlanView = ReturnType<typeof planLimitsOf> & {
  /** New workspaces get this plan. */
  default: boolean;
  /** Workspaces on the plan. */
  workspaces: number;
  createdAt: string;
  updatedAt: string;
};

type PlanRow = Row<'plan'> & { workspaces: string | number | bigint | null };

const view = (r: PlanRow): PlanView => ({
  ...planLimitsOf(r),
  default: r.is_default,
  workspaces: Number(r.workspaces ?? 0),
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

/** Plans are the provider's and workspaces the tenants themselves: no workspace scope applies (operator reads). */
const selectPlans = (em: EntityManager) =>
  typedDb(em)
    .selectFrom('plan')
    .selectAll('plan')
    .select((eb) => eb.selectFrom('workspace').select(eb.fn.countAll().as('n')).whereRef('workspace.plan_id', '=', 'plan.id').as('workspaces'));

const planNotFound = (id: string) => notFound('Plan', id);

export async function listPlans(em: EntityManager): Promise<{ plans: PlanView[] }> {
  const rows = await selectPlans(em).orderBy('plan.created_at').orderBy('plan.id').execute();
  return { plans: rows.map((r) => view(r as PlanRow)) };
}

export async function getPlan(em: EntityManager, id: string): Promise<PlanView> {
  const row = await selectPlans(em).where('plan.id', '=', id).executeTakeFirst();
  if (!row) throw planNotFound(id);
  return view(row as PlanRow);
}

/** The plan new workspaces get, if one is marked. */
export async function defaultPlanId(em: EntityManager): Promise<string | null> {
  const row = await typedDb(em).selectFrom('plan').select('id').where('is_default', '=', true).orderBy('id').executeTakeFirst();
  return row?.id ?? null;
}

/**
 * Two transactions each making a different plan the default would each clear the other's flag
 * before it committed, leaving two defaults. They queue on one transaction-scoped advisory lock
 * (row locks would not cover a plan being inserted), and the clearing update runs after the wait,
 * so it sees the other's commit.
 */
const DEFAULT_PLAN_LOCK = 0x6761_7465_706c_616en; // 'gateplan'
async function makeOnlyDefault(tx: EntityManager, id: string): Promise<string[]> {
  await typedDb(tx)
    .selectNoFrom((eb) => eb.fn<string>('pg_advisory_xact_lock', [eb.val(DEFAULT_PLAN_LOCK.toString())]).as('locked'))
    .execute();
  const cleared = await typedDb(tx)
    .updateTable('plan')
    .set({ is_default: false, updated_at: sql<Date>`clock_timestamp()` })
    .where('is_default', '=', true)
    .where('id', '!=', id)
    .returning('id')
    .execute();
  return cleared.map((r) => r.id);
}

/** A plan's stored columns from the fields given (camelCase in, snake_case columns out). */
function columns(input: Partial<CreatePlanInput>) {
  const out: Record<string, unknown> = {};
  if (input.name !== undefined) out.name = input.name;
  if (input.keyRateLimits !== undefined) out.key_rate_limits = json(input.keyRateLimits);
  if (input.workspaceRateLimits !== undefined) out.workspace_rate_limits = json(input.workspaceRateLimits);
  if (input.monthlyCalls !== undefined) out.monthly_calls = input.monthlyCalls;
  if (input.monthlyCredits !== undefined) out.monthly_credits = input.monthlyCredits;
  if (input.maxKeys !== undefined) out.max_keys = input.maxKeys;
  if (input.maxWebhookEndpoints !== undefined) out.max_webhook_endpoints = input.maxWebhookEndpoints;
  if (input.grantableScopes !== undefined) out.grantable_scopes = input.grantableScopes === null ? null : json(input.grantableScopes);
  if (input.logRetentionDays !== undefined) out.log_retention_days = input.logRetentionDays;
  if (input.default !== undefined) out.is_default = input.default;
  return out;
}

/** The plan's fields in the REST API's words, for the audit trail. */
function snapshot(p: PlanView): Record<string, unknown> {
  return {
    name: p.name,
    key_rate_limits: p.keyRateLimits.map((l) => ({ limit: l.limit, window_seconds: l.windowSeconds })),
    workspace_rate_limits: p.workspaceRateLimits.map((l) => ({ limit: l.limit, window_seconds: l.windowSeconds })),
    monthly_calls: p.monthlyCalls,
    monthly_credits: p.monthlyCredits,
    max_keys: p.maxKeys,
    max_webhook_endpoints: p.maxWebhookEndpoints,
    grantable_scopes: p.grantableScopes,
    log_retention_days: p.logRetentionDays,
    default: p.default,
  };
}

/**
 * Plans are audited in the operator's own workspace: they belong to no customer. Each change is
 * announced on the key-change channel inside the transaction, so every API process drops the
 * limits it cached for workspaces on the plan when the change commits.
 */
export async function createPlan(em: EntityManager, actor: AuditActor, input: CreatePlanInput): Promise<PlanView> {
  return em.transactional(async (tx) => {
    const cleared = input.default ? await makeOnlyDefault(tx, input.id) : [];
    const inserted = await typedDb(tx)
      .insertInto('plan')
      .values({
        id: input.id,
        name: input.name,
        key_rate_limits: json(input.keyRateLimits ?? []),
        workspace_rate_limits: json(input.workspaceRateLimits ?? []),
        monthly_calls: input.monthlyCalls ?? null,
        monthly_credits: input.monthlyCredits ?? null,
        max_keys: input.maxKeys ?? null,
        max_webhook_endpoints: input.maxWebhookEndpoints ?? null,
        grantable_scopes: input.grantableScopes == null ? null : json(input.grantableScopes),
        log_retention_days: input.logRetentionDays ?? null,
        is_default: input.default ?? false,
        created_at: sql<Date>`clock_timestamp()`,
        updated_at: sql<Date>`clock_timestamp()`,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) throw conflict(`id: a plan '${input.id}' already exists; choose another id`, 'id');
    const plan = await getPlan(tx, input.id);
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'plan.created', targetType: 'plan', targetId: plan.id, changes: snapshot(plan) });
    for (const id of cleared) await notifyPlanChanged(tx, id);
    await notifyPlanChanged(tx, plan.id);
    return plan;
  });
}

export async function updatePlan(em: EntityManager, actor: AuditActor, id: string, fields: UpdatePlanFields): Promise<PlanView> {
  return em.transactional(async (tx) => {
    const locked = await typedDb(tx).selectFrom('plan').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!locked) throw planNotFound(id);
    const before = await getPlan(tx, id);
    const cleared = fields.default ? await makeOnlyDefault(tx, id) : [];
    const set = columns(fields);
    if (Object.keys(set).length === 0) return before;
    await typedDb(tx)
      .updateTable('plan')
      .set({ ...set, updated_at: sql<Date>`clock_timestamp()` })
      .where('id', '=', id)
      .execute();
    const after = await getPlan(tx, id);
    const was = snapshot(before);
    const now = snapshot(after);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of Object.keys(now)) if (JSON.stringify(was[k]) !== JSON.stringify(now[k])) changes[k] = { from: was[k], to: now[k] };
    if (Object.keys(changes).length > 0) {
      await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'plan.updated', targetType: 'plan', targetId: id, changes });
    }
    for (const other of cleared) await notifyPlanChanged(tx, other);
    await notifyPlanChanged(tx, id);
    return after;
  });
}

/** How many workspaces a 409 names at most; the message gives the count of the rest. */
const NAMED_WORKSPACES = 20;

/** A plan in use stays: moving its workspaces to another plan is a decision per customer. */
export async function deletePlan(em: EntityManager, actor: AuditActor, id: string): Promise<{ id: string; deleted: true }> {
  return em.transactional(async (tx) => {
    // FOR UPDATE conflicts with the key-share lock a workspace's new plan_id takes on the plan,
    // so no workspace joins the plan between the count and the delete.
    const locked = await typedDb(tx).selectFrom('plan').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!locked) throw planNotFound(id);
    const users = await typedDb(tx).selectFrom('workspace').select('id').where('plan_id', '=', id).orderBy('id').limit(NAMED_WORKSPACES + 1).execute();
    if (users.length > 0) {
      const { n } = await typedDb(tx)
        .selectFrom('workspace')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('plan_id', '=', id)
        .executeTakeFirstOrThrow();
      const total = Number(n);
      const named = users.slice(0, NAMED_WORKSPACES).map((u) => `'${u.id}'`).join(', ');
      const rest = total > NAMED_WORKSPACES ? ` and ${total - NAMED_WORKSPACES} more` : '';
      throw conflict(`Plan '${id}' is in use by ${total} workspace${total === 1 ? '' : 's'} (${named}${rest}); move them to another plan first`);
    }
    const before = await getPlan(tx, id);
    await typedDb(tx).deleteFrom('plan').where('id', '=', id).execute();
    await recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'plan.deleted', targetType: 'plan', targetId: id, changes: snapshot(before) });
    await notifyPlanChanged(tx, id);
    return { id, deleted: true as const };
  });
}
