import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request } from 'express';
import { recordAudit } from '../../core/audit.js';
import { HttpError, notFound } from '../../core/errors.js';
import { OPERATOR, PRESETS } from '../../core/permissions.js';
import { workspaceIdSchema } from '../../core/workspaces.js';
import { typedDb } from '../../db/kysely.js';
import { workspaceScope } from '../../core/scope.js';
import type { Principal } from './principal.js';

/**
 * "View as customer": the operator console browses a customer's dashboard, keys, usage, webhooks
 * and logs with the customer's own pages. The UI sends this header on its tRPC queries; the
 * principal then stands in the viewed workspace with the read-only preset, so every page works
 * unchanged and nothing can be changed there.
 */
export const VIEW_AS_HEADER = 'x-gatehouse-view-as';
export const VIEWED_AS_ACTION = 'workspace.viewed_as';
/** One audit entry per operator key and workspace in this span, not one per query. */
export const VIEW_AS_AUDIT_WINDOW_MS = 10 * 60_000;

const READ_ONLY_SCOPES: ReadonlySet<string> = new Set(PRESETS['read-only']);

export const readOnlyRefusal = () =>
  new HttpError(403, 'read_only', 'Viewing a workspace as its customer is read-only: changes are refused', VIEW_AS_HEADER);

/** What tRPC's adapter tells createContext about the request (its `info`). */
export interface CallInfo {
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
  connectionParams: Record<string, string | undefined> | null;
}

function viewAsHeader(req: Request, info: CallInfo): string | undefined {
  // EventSource sends no headers: a subscription (logs.tail) names the workspace in the
  // connection params httpSubscriptionLink puts in its URL.
  const raw = req.headers[VIEW_AS_HEADER] ?? (info.type === 'subscription' ? (info.connectionParams?.[VIEW_AS_HEADER] ?? undefined) : undefined);
  if (raw === undefined) return undefined;
  if (Array.isArray(raw) || raw.includes(',')) throw new HttpError(400, 'invalid_input', `${VIEW_AS_HEADER} header: send it exactly once`, VIEW_AS_HEADER);
  const parsed = workspaceIdSchema.safeParse(raw.trim());
  if (!parsed.success) throw new HttpError(400, 'invalid_input', `${VIEW_AS_HEADER} header: ${parsed.error.issues[0]?.message ?? 'not a workspace id'}`, VIEW_AS_HEADER);
  return parsed.data;
}

/**
 * The principal a tRPC request acts as. Without the header, or for a caller who is not signed in,
 * the principal is unchanged. With it, only queries and subscriptions pass, sent as GETs (tRPC
 * sends every mutation as a POST): any change is a 403 `read_only`. A caller without `operator`
 * naming its own workspace is left as it is (the header asks for nothing it does not have); naming
 * another is a 403, so the header never reaches a workspace its sender could not reach without it.
 * For an operator, the named workspace must exist, and the result holds the read-only preset in
 * that workspace, carrying the operator's key (the actor), its own rate limits and IP allowlist.
 */
export async function applyViewAs(
  req: Request,
  info: CallInfo,
  em: EntityManager,
  principal: Principal | undefined,
  ip: string,
): Promise<Principal | undefined> {
  const workspaceId = viewAsHeader(req, info);
  if (!workspaceId || !principal) return principal;
  // The header asks for a read-only view, whoever sends it: a change carrying it is refused.
  if (req.method !== 'GET' || (info.type !== 'query' && info.type !== 'subscription')) throw readOnlyRefusal();
  if (!principal.scopes.has(OPERATOR)) {
    if (workspaceId === principal.workspaceId) return principal;
    throw new HttpError(403, 'insufficient_permissions', `Only an operator may view another workspace (${VIEW_AS_HEADER})`, VIEW_AS_HEADER);
  }
  const found = await typedDb(em).selectFrom('workspace').select('id').where('id', '=', workspaceId).executeTakeFirst();
  if (!found) throw notFound('Workspace', workspaceId);
  await auditViewOnce(em, principal, workspaceId, ip);
  return viewingAs(principal, workspaceId);
}

function viewingAs(operator: Principal, workspaceId: string): Principal {
  return {
    ...operator,
    workspaceId,
    scopes: READ_ONLY_SCOPES,
    viewAs: { operatorWorkspaceId: operator.workspaceId },
    // logs.tail re-resolves its principal while it runs: it must stay in the viewed workspace, and
    // end once the operator's key no longer holds `operator`.
    recheck: operator.recheck
      ? async () => {
          const again = await operator.recheck!();
          return again?.scopes.has(OPERATOR) ? viewingAs(again, workspaceId) : undefined;
        }
      : undefined,
  };
}

/** (operator key pk, workspace) → when this process last knew an entry to be recent. */
const lastAudited = new Map<string, number>();
const MAX_REMEMBERED = 10_000;

/**
 * Audits a view in the viewed workspace, at most once per operator key and workspace per window.
 * The process remembers what it wrote; another process (or a restart) finds the recent entry in
 * the audit log itself before writing one, so the window holds across processes but for a race
 * between two first views.
 */
async function auditViewOnce(em: EntityManager, operator: Principal, workspaceId: string, ip: string): Promise<void> {
  const memo = `${operator.keyPk}\u0000${workspaceId}`;
  const now = Date.now();
  const last = lastAudited.get(memo);
  if (last !== undefined && now - last < VIEW_AS_AUDIT_WINDOW_MS) return;
  const scope = workspaceScope(em, workspaceId);
  const recent = await scope
    .selectFrom('audit_log')
    .select('created_at')
    .where('action', '=', VIEWED_AS_ACTION)
    .where('actor_workspace_id', '=', operator.workspaceId)
    .where('actor_key_id', '=', operator.keyId)
    .where('created_at', '>', new Date(now - VIEW_AS_AUDIT_WINDOW_MS))
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (recent) {
    remember(memo, new Date(recent.created_at).getTime());
    return;
  }
  await recordAudit(em, { workspaceId: operator.workspaceId, keyId: operator.keyId, ip }, {
    workspaceId,
    action: VIEWED_AS_ACTION,
    targetType: 'workspace',
    targetId: workspaceId,
    changes: { read_only: true },
  });
  remember(memo, now);
}

function remember(memo: string, at: number): void {
  if (lastAudited.size >= MAX_REMEMBERED) lastAudited.clear();
  lastAudited.set(memo, at);
}
