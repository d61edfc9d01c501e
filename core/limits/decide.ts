import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import type { RateLimit } from '../../db/entities/api-key.js';
import type { PlanOverrides } from '../../db/entities/workspace.js';
import { json, typedDb } from '../../db/kysely.js';
import { recordAudit } from '../audit.js';
import { badRequest, conflict, HttpError, notFound, truncate } from '../errors.js';
import { raiseEvent } from '../events.js';
import { notifyKeyChanged } from '../keys/notify.js';
import { exceededCeiling } from '../plans/effective.js';
import { loadEffectiveLimits } from '../plans/load.js';
import { notifyWorkspaceLimitsChanged } from '../plans/notify.js';
import { workspaceScope } from '../scope.js';
import { assertPlanExists, eventPayloadOf, planIdSchema, toView, type LimitActor, type LimitDeps, type LimitRequestRow, type LimitRequestView } from './requests.js';

const note = z.string().max(1000);
export const ApproveInput = z.strictObject({
  /** Grant this amount instead of the one asked for (a key's limit or the monthly quota). */
  limit: z.number().int().min(1).max(1_000_000_000_000).optional(),
  /** Assign this plan as part of the approval (a plan request: instead of the one asked for). */
  plan: planIdSchema.optional(),
  note: note.optional(),
});
export type ApproveInput = z.infer<typeof ApproveInput>;
export const DeclineInput = z.strictObject({ note });

/**
 * A request is the provider's to decide: the caller holds `operator` or `limits:approve` (the route
 * says so) and reaches every workspace. The request is found by id across workspaces (the one
 * cross-workspace read), then everything else goes through the request's own workspace's scope.
 */
async function lockRequest(tx: EntityManager, actor: LimitActor, id: string): Promise<LimitRequestRow> {
  const req = await typedDb(tx).selectFrom('limit_request').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow(() => notFound('Limit request', id));
  if (req.status !== 'pending') throw conflict(`Limit request '${truncate(id)}' was already ${req.status}`);
  // Compared by workspace and key id, the filer identity stored: an operator never decides what it filed itself.
  if (req.workspace_id === actor.workspaceId && req.requested_by === actor.keyId) {
    throw new HttpError(403, 'insufficient_permissions', `Limit request '${truncate(id)}' was filed by this API key; another key must decide it`);
  }
  return req;
}

async function setPlan(tx: EntityManager, workspaceId: string, planId: string): Promise<string | null> {
  const before = await typedDb(tx).selectFrom('workspace').select('plan_id').where('id', '=', workspaceId).forNoKeyUpdate().executeTakeFirstOrThrow(() => notFound('Workspace', workspaceId));
  await typedDb(tx).updateTable('workspace').set({ plan_id: planId }).where('id', '=', workspaceId).execute();
  return before.plan_id;
}

async function setQuotaOverride(tx: EntityManager, workspaceId: string, monthlyCalls: number): Promise<number | null | undefined> {
  const ws = await typedDb(tx).selectFrom('workspace').select('overrides').where('id', '=', workspaceId).forNoKeyUpdate().executeTakeFirstOrThrow(() => notFound('Workspace', workspaceId));
  const overrides: PlanOverrides = { ...(ws.overrides ?? {}), monthlyCalls };
  await typedDb(tx).updateTable('workspace').set({ overrides: json(overrides) }).where('id', '=', workspaceId).execute();
  return ws.overrides?.monthlyCalls;
}

/**
 * Approves: a key limit becomes the granted amount on the key, a quota becomes the workspace's
 * `overrides.monthlyCalls`, a plan is assigned. `plan` in the approval assigns that plan too (for a
 * plan request: instead of the one asked for). A key limit must stay within the plan's per-key
 * ceilings (the plan after this approval): above them it is a 400 telling the operator to raise the
 * ceiling first (a plan or an override), rather than a key silently allowed more than its plan.
 */
export async function approveLimitRequest(deps: LimitDeps, actor: LimitActor, id: string, input: ApproveInput): Promise<LimitRequestView> {
  const row = await deps.em.transactional(async (tx) => {
    const req = await lockRequest(tx, actor, id);
    const ws = req.workspace_id;
    const scope = workspaceScope(tx, ws);
    const audit = (action: string, targetType: string, targetId: string, changes: Record<string, unknown>) =>
      recordAudit(tx, actor, { workspaceId: ws, action, targetType, targetId, changes });
    if (req.kind === 'plan' && input.limit !== undefined) throw badRequest('limit: a plan request grants a plan; send `plan` to grant another one', 'limit');
    const plan = input.plan ?? (req.kind === 'plan' ? req.requested_plan! : undefined);
    if (plan !== undefined) {
      await assertPlanExists(tx, plan, 'plan');
      const from = await setPlan(tx, ws, plan);
      await notifyWorkspaceLimitsChanged(tx, ws);
      // The same entries as an operator's direct change (core/plans/workspace-plan.ts).
      await audit('workspace.plan_changed', 'workspace', ws, { plan: { from, to: plan } });
    }
    let granted: number | null = null;
    if (req.kind === 'key_limit') {
      granted = input.limit ?? Number(req.requested_limit);
      // Requests go when their key is deleted (cascade), so the key is there.
      const key = await scope
        .selectFrom('api_key')
        .select(['pk', 'id', 'rate_limits', 'revoked_at'])
        .where('pk', '=', req.api_key_pk!)
        .forUpdate()
        .executeTakeFirstOrThrow(() => notFound('API key', req.key_id!));
      if (key.revoked_at) throw conflict(`API key '${truncate(req.key_id!)}' is revoked; the request can only be declined`);
      const next: RateLimit = { name: req.limit_name!, limit: granted, windowSeconds: req.window_seconds! };
      const ceilings = (await loadEffectiveLimits(tx, ws)).keyRateLimits;
      const beyond = exceededCeiling([next], ceilings);
      if (beyond) {
        throw badRequest(
          `limit: ${granted} per ${next.windowSeconds}s is beyond the plan's ceiling of ${beyond.ceiling.limit} per ${beyond.ceiling.windowSeconds}s; ` +
            `grant less, approve with another \`plan\`, or raise the workspace's keyRateLimits override first`,
          'limit',
        );
      }
      const limits = [...(key.rate_limits ?? [])];
      const at = limits.findIndex((l) => l.name === req.limit_name);
      if (at >= 0) limits[at] = next;
      else limits.push(next);
      await scope.updateTable('api_key').set({ rate_limits: json(limits), updated_at: sql<Date>`clock_timestamp()` }).where('pk', '=', key.pk).execute();
      await notifyKeyChanged(tx, key.pk);
      await audit('key.updated', 'api_key', req.key_id!, { rate_limits: { from: key.rate_limits ?? [], to: limits } });
    } else if (req.kind === 'workspace_quota') {
      granted = input.limit ?? Number(req.requested_limit);
      const from = await setQuotaOverride(tx, ws, granted);
      await notifyWorkspaceLimitsChanged(tx, ws);
      await audit('workspace.overrides_changed', 'workspace', ws, { overrides: { from: { monthly_calls: from ?? null }, to: { monthly_calls: granted } } });
    }
    const decided = await scope
      .updateTable('limit_request')
      .set({
        status: 'approved',
        decided_by: actor.keyId,
        decided_at: sql<Date>`clock_timestamp()`,
        decision_note: input.note ?? null,
        approved_limit: granted !== null && granted !== num(req.requested_limit) ? granted : null,
        // The plan the approval assigned, whenever it assigned one (a plan request's always).
        approved_plan: plan ?? null,
      })
      .where('id', '=', req.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await finish(deps, tx, actor, decided);
    return decided;
  });
  return toView(row);
}

export async function declineLimitRequest(deps: LimitDeps, actor: LimitActor, id: string, input: z.infer<typeof DeclineInput>): Promise<LimitRequestView> {
  const row = await deps.em.transactional(async (tx) => {
    const req = await lockRequest(tx, actor, id);
    const decided = await workspaceScope(tx, req.workspace_id)
      .updateTable('limit_request')
      .set({ status: 'declined', decided_by: actor.keyId, decided_at: sql<Date>`clock_timestamp()`, decision_note: input.note })
      .where('id', '=', req.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await finish(deps, tx, actor, decided);
    return decided;
  });
  return toView(row);
}

const num = (n: number | string | null) => (n === null ? null : Number(n));

/** The audit entry (in the customer's workspace, the operator as actor) and `limits.request.decided`. */
export async function finish(deps: Pick<LimitDeps, 'temporal' | 'log'>, tx: EntityManager, actor: LimitActor | null, r: LimitRequestRow): Promise<void> {
  await recordAudit(tx, actor, {
    workspaceId: r.workspace_id,
    action: `limit_request.${r.status}`,
    targetType: 'limit_request',
    targetId: r.id,
    ...(r.decision_note ? { changes: { note: r.decision_note } } : {}),
  });
  await raiseEvent(
    { em: tx, temporal: deps.temporal, log: deps.log },
    {
      workspaceId: r.workspace_id,
      type: 'limits.request.decided',
      idempotencyKey: `limits.request.decided:${r.id}`,
      payload: {
        ...eventPayloadOf(r),
        status: r.status as 'approved' | 'declined' | 'expired',
        approved_limit: num(r.approved_limit),
        approved_plan: r.approved_plan,
        note: r.decision_note,
        decided_by: r.decided_by,
        decided_at: new Date(r.decided_at ?? Date.now()).toISOString(),
      },
    },
  );
}
