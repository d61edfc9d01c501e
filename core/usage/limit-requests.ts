import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import type { RateLimit } from '../../db/entities/api-key.js';
import { json, type Row as TableRow } from '../../db/kysely.js';
import type { LimitRequestStatus } from '../../db/entities/limit-request.js';
import { conflict, HttpError, notFound, truncate } from '../errors.js';
import { recordAudit } from '../audit.js';
import { newId } from '../ids.js';
import { page } from '../page.js';
import { looserRateLimits } from '../keys/limit-order.js';
import { assertMayLoosen } from '../keys/limit-policy.js';
import { assertMayManage } from '../keys/may-manage.js';
import { notifyKeyChanged } from '../keys/notify.js';
import { workspaceScope } from '../scope.js';

/** Who asks or decides: a key of the workspace, as the server's Principal plus the caller's address. */
export interface LimitActor {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
  ip: string;
}

export const CreateLimitRequestInput = z.strictObject({
  /** The rate limit to raise, by name; a name the key does not have adds a limit on approval. */
  limitName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected 1-64 letters, digits, "_", ".", ":" or "-"'),
  requestedLimit: z.number().int().min(1).max(1_000_000_000),
  /** Required for a new limit; for an existing one it defaults to that limit's window. */
  windowSeconds: z.number().int().min(1).max(31 * 86_400).optional(),
  reason: z.string().max(1000).default(''),
});
export type CreateLimitRequestInput = z.infer<typeof CreateLimitRequestInput>;

export interface LimitRequestView {
  id: string;
  keyId: string;
  limitName: string;
  currentLimit: number | null;
  requestedLimit: number;
  windowSeconds: number;
  reason: string;
  status: Exclude<LimitRequestStatus, 'expired'>;
  requestedBy: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  createdAt: string;
}

type Row = TableRow<'limit_request'>;

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function toView(r: Row): LimitRequestView {
  return {
    id: r.id,
    keyId: r.key_id ?? '',
    limitName: r.limit_name ?? '',
    currentLimit: r.current_limit,
    requestedLimit: r.requested_limit ?? 0,
    windowSeconds: r.window_seconds ?? 0,
    reason: r.reason,
    status: r.status as Exclude<LimitRequestStatus, 'expired'>,
    requestedBy: r.requested_by,
    decidedBy: r.decided_by,
    decidedAt: iso(r.decided_at),
    decisionNote: r.decision_note,
    createdAt: iso(r.created_at)!,
  };
}

export async function createLimitRequest(em: EntityManager, actor: LimitActor, keyId: string, input: CreateLimitRequestInput): Promise<LimitRequestView> {
  return em.transactional(async (tx) => {
    const scope = workspaceScope(tx, actor.workspaceId);
    const key = await scope
      .selectFrom('api_key')
      .select(['pk', 'rate_limits', 'revoked_at'])
      .where('id', '=', keyId)
      .forUpdate()
      .executeTakeFirstOrThrow(() => notFound('API key', keyId));
    if (key.revoked_at) throw conflict(`API key '${truncate(keyId)}' is revoked; its limits cannot change`);
    const existing = (key.rate_limits ?? []).find((l) => l.name === input.limitName);
    const windowSeconds = input.windowSeconds ?? existing?.windowSeconds;
    if (windowSeconds === undefined) {
      throw new HttpError(400, 'invalid_input', `windowSeconds: required for '${input.limitName}', a limit this key does not have yet`, 'windowSeconds');
    }
    const pending = await scope
      .selectFrom('limit_request')
      .select('id')
      .where('api_key_pk', '=', key.pk)
      .where('limit_name', '=', input.limitName)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (pending) throw conflict(`A request for '${input.limitName}' on this key is already pending (${pending.id})`, 'limitName');
    const row = await scope
      .insertInto('limit_request', {
        id: newId('lr'),
        api_key_pk: key.pk,
        key_id: keyId,
        limit_name: input.limitName,
        current_limit: existing?.limit ?? null,
        requested_limit: input.requestedLimit,
        window_seconds: windowSeconds,
        reason: input.reason,
        status: 'pending',
        requested_by: actor.keyId,
        created_at: sql<Date>`clock_timestamp()`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: 'limit_request.created',
      targetType: 'api_key',
      targetId: keyId,
      // The audit log's stored shape, unchanged: entries written before and after read alike.
      changes: { limit_name: input.limitName, requested_limit: input.requestedLimit, window_seconds: windowSeconds },
    });
    return toView(row);
  });
}

export const ListLimitRequestsInput = z.strictObject({
  status: z.enum(['pending', 'approved', 'declined']).optional(),
  keyId: z.string().min(1).max(128).optional(),
  /** `nextCursor` of the previous page. */
  cursor: z.string().max(400).optional(),
  /** Page size, 1-500; 500 when omitted, the whole list a client saw before it had pages. */
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

export interface LimitRequestPage {
  limitRequests: LimitRequestView[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** Newest first, paged by page(). */
export async function listLimitRequests(em: EntityManager, workspaceId: string, f: z.infer<typeof ListLimitRequestsInput>): Promise<LimitRequestPage> {
  let q = workspaceScope(em, workspaceId).selectFrom('limit_request').selectAll();
  if (f.status) q = q.where('status', '=', f.status);
  if (f.keyId) q = q.where('key_id', '=', f.keyId);
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'id' }, { cursor: f.cursor, limit: f.limit ?? 500 });
  return { limitRequests: items.map(toView), nextCursor };
}

/**
 * Approving sets the key's limit of that name to the requested value (adding the limit when
 * the key had none of that name), in the same transaction, and tells every API process.
 * A request is never decided by the key that filed it, the decider must be allowed to manage the
 * key, and an approval that loosens its limits needs what a direct change would (limit-policy.ts).
 */
export async function decideLimitRequest(
  em: EntityManager,
  actor: LimitActor,
  id: string,
  decision: 'approve' | 'decline',
  note?: string,
): Promise<LimitRequestView> {
  return em.transactional(async (tx) => {
    const scope = workspaceScope(tx, actor.workspaceId);
    const req = await scope
      .selectFrom('limit_request')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirstOrThrow(() => notFound('Limit request', id));
    if (req.status !== 'pending') throw conflict(`Limit request '${truncate(id)}' was already ${req.status}`);
    // Compared by key id, the only filer identity stored: a later key reusing the id is refused too.
    if (req.requested_by === actor.keyId) {
      throw new HttpError(403, 'insufficient_permissions', `Limit request '${truncate(id)}' was filed by this API key; another key must decide it`);
    }
    // Requests go when their key is deleted (cascade), so the key is there.
    const key = await scope
      .selectFrom('api_key')
      .select(['pk', 'id', 'permissions', 'rate_limits', 'revoked_at'])
      .where('pk', '=', req.api_key_pk!)
      .forUpdate()
      .executeTakeFirstOrThrow(() => notFound('API key', req.key_id!));
    assertMayManage(actor, key, decision === 'approve' ? 'approve limits for' : 'decline limits for');
    if (decision === 'approve') {
      if (key.revoked_at) throw conflict(`API key '${truncate(req.key_id!)}' is revoked; the request can only be declined`);
      const limits = [...(key.rate_limits ?? [])];
      const next: RateLimit = { name: req.limit_name!, limit: req.requested_limit!, windowSeconds: req.window_seconds! };
      const at = limits.findIndex((l) => l.name === req.limit_name);
      if (at >= 0) limits[at] = next;
      else limits.push(next);
      assertMayLoosen(actor, key, 'rate_limits', looserRateLimits(limits, key.rate_limits ?? []));
      await scope.updateTable('api_key').set({ rate_limits: json(limits), updated_at: sql<Date>`clock_timestamp()` }).where('pk', '=', key.pk).execute();
      await notifyKeyChanged(tx, key.pk);
      await recordAudit(tx, actor, {
        workspaceId: actor.workspaceId,
        action: 'key.updated',
        targetType: 'api_key',
        targetId: req.key_id!,
        changes: { rate_limits: { from: key.rate_limits ?? [], to: limits } },
      });
    }
    const row = await scope
      .updateTable('limit_request')
      .set({ status: decision === 'approve' ? 'approved' : 'declined', decided_by: actor.keyId, decided_at: sql<Date>`clock_timestamp()`, decision_note: note ?? null })
      .where('id', '=', req.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, actor, {
      workspaceId: actor.workspaceId,
      action: decision === 'approve' ? 'limit_request.approved' : 'limit_request.declined',
      targetType: 'limit_request',
      targetId: req.id,
    });
    return toView(row);
  });
}
