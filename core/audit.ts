import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from './ids.js';
import { sql } from 'kysely';
import { json, type Row } from '../db/kysely.js';
import { page } from './page.js';
import { workspaceScope } from './scope.js';

/** Who acted: a key (possibly an operator's, from another workspace) and the address it called from. */
export interface AuditActor {
  workspaceId: string;
  keyId: string;
  ip: string;
  /** A customer-portal session's person: keyId is then `user:<id>` and the email is recorded beside it. */
  person?: { email: string };
}

export interface AuditInput {
  workspaceId: string;
  action: string;
  targetType: 'api_key' | 'workspace' | (string & {});
  targetId: string;
  /** Field names (snake_case, as the REST API names them) and values; never a secret. */
  changes?: Record<string, unknown>;
}

export interface AuditEntryView {
  id: string;
  workspaceId: string;
  actorWorkspaceId: string | null;
  actorKeyId: string | null;
  /** Set when a customer-portal session's person acted (optional in the type: views built before it omit it). */
  actorEmail?: string | null;
  action: string;
  targetType: string;
  targetId: string;
  ip: string;
  changes: Record<string, unknown>;
  createdAt: string;
}

/** Written inside the caller's transaction, so the trail and the change commit or fail together. */
export async function recordAudit(em: EntityManager, actor: AuditActor | null, entry: AuditInput): Promise<void> {
  await workspaceScope(em, entry.workspaceId)
    .insertInto('audit_log', {
      id: newId('aud', 12),
      actor_workspace_id: actor?.workspaceId ?? null,
      actor_key_id: actor?.keyId ?? null,
      actor_email: actor?.person?.email ?? null,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      ip: (actor?.ip ?? '').slice(0, 64),
      changes: json(entry.changes ?? {}),
      // clock_timestamp(), not now(): entries of one transaction keep their order.
      created_at: sql<Date>`clock_timestamp()`,
    })
    .execute();
}

export interface AuditFilter {
  /** Entries about this key. */
  keyId?: string;
  action?: string;
  since?: Date;
  until?: Date;
  limit?: number;
  cursor?: string;
}

// In the order the REST API has always listed them (server/rest/audit.ts renames, it does not reorder).
const view = (r: Row<'audit_log'>): AuditEntryView => ({
  id: r.id,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  actorKeyId: r.actor_key_id,
  actorWorkspaceId: r.actor_workspace_id,
  actorEmail: r.actor_email,
  ip: r.ip,
  changes: r.changes,
  createdAt: new Date(r.created_at).toISOString(),
  workspaceId: r.workspace_id,
});

/** Newest first, always within one workspace. */
export async function listAudit(
  em: EntityManager,
  workspaceId: string,
  filter: AuditFilter = {},
): Promise<{ entries: AuditEntryView[]; nextCursor: string | null }> {
  let q = workspaceScope(em, workspaceId).selectFrom('audit_log').selectAll();
  if (filter.keyId !== undefined) q = q.where('target_type', '=', 'api_key').where('target_id', '=', filter.keyId);
  if (filter.action !== undefined) q = q.where('action', '=', filter.action);
  if (filter.since) q = q.where('created_at', '>=', filter.since);
  if (filter.until) q = q.where('created_at', '<', filter.until);
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'id' }, { cursor: filter.cursor, limit: filter.limit ?? 50 });
  return { entries: items.map(view), nextCursor };
}
