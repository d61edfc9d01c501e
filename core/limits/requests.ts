import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { typedDb, type Row as TableRow } from '../../db/kysely.js';
import type { LimitRequestKind, LimitRequestStatus } from '../../db/entities/limit-request.js';
import type { TemporalHandle } from '../../temporal/client.js';
import type { Logger } from '../log.js';
import { recordAudit } from '../audit.js';
import { badRequest, conflict, HttpError, notFound, truncate } from '../errors.js';
import { raiseEvent } from '../events.js';
import type { EventPayload } from '../events/catalog.js';
import { newId } from '../ids.js';
import { page } from '../page.js';
import { hasScope } from '../permissions.js';
import { loadEffectiveLimits } from '../plans/load.js';
import { workspaceScope } from '../scope.js';

/** Who asks or decides: a key, as the server's Principal plus the caller's address. */
export interface LimitActor {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
  ip: string;
  /** A customer-portal session's person: the audit log records their email (docs/portal.md). */
  person?: { email: string };
}

export interface LimitDeps {
  em: EntityManager;
  temporal: TemporalHandle;
  /** Days a pending request lives (GATEHOUSE_LIMIT_REQUEST_TTL_DAYS). */
  ttlDays: number;
  log?: Logger;
}

const reason = z.string().max(1000).default('');
const requestedLimit = z.number().int().min(1).max(1_000_000_000_000);
export const planIdSchema = z.string().min(1).max(64);

const KeyLimitRequest = z.strictObject({
  kind: z.literal('key_limit'),
  keyId: z.string().min(1).max(128),
  /** The rate limit to raise, by name; a name the key does not have adds a limit on approval. */
  limitName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected 1-64 letters, digits, "_", ".", ":" or "-"'),
  requestedLimit: z.number().int().min(1).max(1_000_000_000),
  /** Required for a new limit; for an existing one it defaults to that limit's window. */
  windowSeconds: z.number().int().min(1).max(31 * 86_400).optional(),
  reason,
});
const QuotaRequest = z.strictObject({ kind: z.literal('workspace_quota'), requestedLimit, reason });
const PlanRequest = z.strictObject({ kind: z.literal('plan'), plan: planIdSchema, reason });

/** What a customer files: a key's rate limit, the workspace's monthly call quota, or another plan. */
export const CreateLimitRequestInput = z.discriminatedUnion('kind', [KeyLimitRequest, QuotaRequest, PlanRequest]);
export type CreateLimitRequestInput = z.infer<typeof CreateLimitRequestInput>;
/** The key-limit request of `POST /api-keys/{id}/limit-requests` (the key named by the path). */
export const KeyLimitRequestFields = KeyLimitRequest.omit({ kind: true, keyId: true });

export interface LimitRequestView {
  id: string;
  workspaceId: string;
  kind: LimitRequestKind;
  keyId: string | null;
  limitName: string | null;
  currentLimit: number | null;
  requestedLimit: number | null;
  windowSeconds: number | null;
  requestedPlan: string | null;
  reason: string;
  status: LimitRequestStatus;
  requestedBy: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  approvedLimit: number | null;
  approvedPlan: string | null;
  expiresAt: string | null;
  createdAt: string;
}

export type LimitRequestRow = TableRow<'limit_request'>;

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const num = (n: number | string | null) => (n === null ? null : Number(n));

export function toView(r: LimitRequestRow): LimitRequestView {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    kind: r.kind as LimitRequestKind,
    keyId: r.key_id,
    limitName: r.limit_name,
    currentLimit: num(r.current_limit),
    requestedLimit: num(r.requested_limit),
    windowSeconds: r.window_seconds,
    requestedPlan: r.requested_plan,
    reason: r.reason,
    status: r.status as LimitRequestStatus,
    requestedBy: r.requested_by,
    decidedBy: r.decided_by,
    decidedAt: iso(r.decided_at),
    decisionNote: r.decision_note,
    approvedLimit: num(r.approved_limit),
    approvedPlan: r.approved_plan,
    expiresAt: iso(r.expires_at),
    createdAt: iso(r.created_at)!,
  };
}

/** The common part of both limits.request.* payloads. */
export function eventPayloadOf(r: LimitRequestRow): EventPayload<'limits.request.created'> {
  return {
    workspace_id: r.workspace_id,
    request_id: r.id,
    kind: r.kind as LimitRequestKind,
    key_id: r.key_id,
    limit_name: r.limit_name,
    current_limit: num(r.current_limit),
    requested_limit: num(r.requested_limit),
    window_seconds: r.window_seconds,
    requested_plan: r.requested_plan,
    reason: r.reason,
    requested_by: r.requested_by,
  };
}

/**
 * Filing needs `usage:write` for a key's limit (as before plans) and `limits:write`, the workspace
 * administrator's scope, for the workspace's quota or plan: those concern every key of the workspace.
 */
export function assertMayFile(actor: LimitActor, kind: LimitRequestKind): void {
  if (kind !== 'key_limit' && !hasScope(actor.scopes, 'limits:write')) {
    throw new HttpError(403, 'insufficient_permissions', `This API key lacks the 'limits:write' permission: asking for a larger quota or another plan is the workspace admin's`);
  }
}

/** Files a request in the caller's workspace; one pending request per key limit, quota or plan at a time. */
export async function createLimitRequest(deps: LimitDeps, actor: LimitActor, input: CreateLimitRequestInput): Promise<LimitRequestView> {
  assertMayFile(actor, input.kind);
  const row = await deps.em.transactional(async (tx) => {
    const scope = workspaceScope(tx, actor.workspaceId);
    const base = {
      id: newId('lr'),
      kind: input.kind,
      reason: input.reason,
      status: 'pending',
      requested_by: actor.keyId,
      expires_at: sql<Date>`clock_timestamp() + ${deps.ttlDays} * interval '1 day'`,
      created_at: sql<Date>`clock_timestamp()`,
    };
    const pendingOfKind = scope.selectFrom('limit_request').select('id').where('status', '=', 'pending').where('kind', '=', input.kind);
    let values;
    if (input.kind === 'key_limit') {
      const key = await scope
        .selectFrom('api_key')
        .select(['pk', 'rate_limits', 'revoked_at'])
        .where('id', '=', input.keyId)
        .forUpdate()
        .executeTakeFirstOrThrow(() => notFound('API key', input.keyId));
      if (key.revoked_at) throw conflict(`API key '${truncate(input.keyId)}' is revoked; its limits cannot change`);
      const existing = (key.rate_limits ?? []).find((l) => l.name === input.limitName);
      const windowSeconds = input.windowSeconds ?? existing?.windowSeconds;
      if (windowSeconds === undefined) {
        throw badRequest(`windowSeconds: required for '${input.limitName}', a limit this key does not have yet`, 'windowSeconds');
      }
      // An increase asks for more: the same or less is a change the workspace makes itself (PATCH the key).
      if (existing && input.requestedLimit <= existing.limit) {
        throw badRequest(
          `requestedLimit: ${input.requestedLimit} is not more than the current limit of ${existing.limit} per ${existing.windowSeconds}s; lower a limit by editing the key`,
          'requestedLimit',
        );
      }
      const pending = await pendingOfKind.where('api_key_pk', '=', key.pk).where('limit_name', '=', input.limitName).executeTakeFirst();
      if (pending) throw conflict(`A request for '${input.limitName}' on this key is already pending (${pending.id})`, 'limitName');
      values = {
        ...base,
        api_key_pk: key.pk,
        key_id: input.keyId,
        limit_name: input.limitName,
        current_limit: existing?.limit ?? null,
        requested_limit: input.requestedLimit,
        window_seconds: windowSeconds,
      };
    } else {
      // The workspace row is locked so two requests of one kind cannot both be filed (NO KEY: inserts elsewhere in the workspace go on).
      await typedDb(tx).selectFrom('workspace').select('id').where('id', '=', actor.workspaceId).forNoKeyUpdate().execute();
      const pending = await pendingOfKind.executeTakeFirst();
      const what = input.kind === 'plan' ? 'plan change' : 'quota increase';
      if (pending) throw conflict(`A ${what} for this workspace is already pending (${pending.id})`, 'kind');
      const limits = await loadEffectiveLimits(tx, actor.workspaceId);
      if (input.kind === 'plan') {
        await assertPlanExists(tx, input.plan, 'plan');
        if (input.plan === limits.planId) throw badRequest(`plan: the workspace is already on plan '${truncate(input.plan)}'`, 'plan');
        values = { ...base, requested_plan: input.plan, current_limit: limits.monthlyCalls };
      } else {
        if (limits.monthlyCalls !== null && input.requestedLimit <= limits.monthlyCalls) {
          throw badRequest(`requestedLimit: ${input.requestedLimit} is not more than the current monthly quota of ${limits.monthlyCalls} calls`, 'requestedLimit');
        }
        values = { ...base, requested_limit: input.requestedLimit, current_limit: limits.monthlyCalls, requested_plan: limits.planId };
      }
    }
    const inserted = await scope.insertInto('limit_request', values).returningAll().executeTakeFirstOrThrow();
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'limit_request.created',
      targetType: input.kind === 'key_limit' ? 'api_key' : 'workspace',
      targetId: input.kind === 'key_limit' ? input.keyId : actor.workspaceId,
      // The audit log's stored shape for key limits, unchanged: entries written before and after read alike.
      changes:
        input.kind === 'key_limit'
          ? { limit_name: input.limitName, requested_limit: input.requestedLimit, window_seconds: inserted.window_seconds }
          : { kind: input.kind, requested_limit: num(inserted.requested_limit), requested_plan: inserted.requested_plan },
    });
    await raiseEvent(
      { em: tx, temporal: deps.temporal, log: deps.log },
      { workspaceId: actor.workspaceId, type: 'limits.request.created', idempotencyKey: `limits.request.created:${inserted.id}`, payload: eventPayloadOf(inserted) },
    );
    return inserted;
  });
  return toView(row);
}

export async function assertPlanExists(em: EntityManager, planId: string, field: string): Promise<void> {
  const plan = await typedDb(em).selectFrom('plan').select('id').where('id', '=', planId).executeTakeFirst();
  if (!plan) throw badRequest(`${field}: no plan '${truncate(planId)}'`, field);
}

const STATUS = z.enum(['pending', 'approved', 'declined', 'expired']);
const cursor = z.string().max(400).optional();
/** Page size, 1-500; 500 when omitted, the whole list a client saw before it had pages. */
const limit = z.coerce.number().int().min(1).max(500).optional();

export const ListLimitRequestsInput = z.strictObject({ status: STATUS.optional(), keyId: z.string().min(1).max(128).optional(), cursor, limit });
export const LimitQueueInput = z.strictObject({ status: STATUS.optional(), workspaceId: z.string().min(1).max(64).optional(), cursor, limit });

export interface LimitRequestPage {
  limitRequests: LimitRequestView[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** The caller's workspace's requests, newest first, paged by page(). */
export async function listLimitRequests(em: EntityManager, workspaceId: string, f: z.infer<typeof ListLimitRequestsInput>): Promise<LimitRequestPage> {
  let q = workspaceScope(em, workspaceId).selectFrom('limit_request').selectAll();
  if (f.status) q = q.where('status', '=', f.status);
  if (f.keyId) q = q.where('key_id', '=', f.keyId);
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'id' }, { cursor: f.cursor, limit: f.limit ?? 500 });
  return { limitRequests: items.map(toView), nextCursor };
}

/** The provider's queue: every workspace's requests (or one's), newest first. Operators and `limits:approve` only. */
export async function limitRequestQueue(em: EntityManager, f: z.infer<typeof LimitQueueInput>): Promise<LimitRequestPage> {
  let q = typedDb(em).selectFrom('limit_request').selectAll();
  if (f.status) q = q.where('status', '=', f.status);
  if (f.workspaceId) q = q.where('workspace_id', '=', f.workspaceId);
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'id' }, { cursor: f.cursor, limit: f.limit ?? 500 });
  return { limitRequests: items.map(toView), nextCursor };
}
