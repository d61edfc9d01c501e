import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from './ids.js';
import { cursorTimestamp, decodeCursor, encodeCursor } from './cursor.js';

/** Who acted: a key (possibly an operator's, from another workspace) and the address it called from. */
export interface AuditActor {
  workspaceId: string;
  keyId: string;
  ip: string;
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
  action: string;
  targetType: string;
  targetId: string;
  ip: string;
  changes: Record<string, unknown>;
  createdAt: string;
}

/** Written inside the caller's transaction, so the trail and the change commit or fail together. */
export async function recordAudit(em: EntityManager, actor: AuditActor | null, entry: AuditInput): Promise<void> {
  await em.execute(
    `insert into audit_log (id, workspace_id, actor_workspace_id, actor_key_id, action, target_type, target_id, ip, changes, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, clock_timestamp())`,
    [
      newId('aud', 12),
      entry.workspaceId,
      actor?.workspaceId ?? null,
      actor?.keyId ?? null,
      entry.action,
      entry.targetType,
      entry.targetId,
      (actor?.ip ?? '').slice(0, 64),
      JSON.stringify(entry.changes ?? {}),
    ],
  );
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

interface AuditRow {
  id: string;
  workspace_id: string;
  actor_workspace_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  ip: string;
  changes: Record<string, unknown>;
  created_at: Date;
  cursor_ts: string;
}

/** Newest first, always within one workspace. */
export async function listAudit(
  em: EntityManager,
  workspaceId: string,
  filter: AuditFilter = {},
): Promise<{ entries: AuditEntryView[]; nextCursor: string | null }> {
  const limit = filter.limit ?? 50;
  const where = ['workspace_id = ?'];
  const params: unknown[] = [workspaceId];
  if (filter.keyId !== undefined) {
    where.push(`target_type = 'api_key' and target_id = ?`);
    params.push(filter.keyId);
  }
  if (filter.action !== undefined) {
    where.push('action = ?');
    params.push(filter.action);
  }
  if (filter.since) {
    where.push('created_at >= ?');
    params.push(filter.since);
  }
  if (filter.until) {
    where.push('created_at < ?');
    params.push(filter.until);
  }
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    where.push('(created_at, id) < (?::timestamptz, ?)');
    params.push(c.timestamp, c.id);
  }
  const rows = await em.execute<AuditRow[]>(
    `select *, ${cursorTimestamp('created_at')} as cursor_ts from audit_log
      where ${where.join(' and ')} order by created_at desc, id desc limit ?`,
    [...params, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    entries: page.map((r) => ({
      id: r.id,
      workspaceId: r.workspace_id,
      actorWorkspaceId: r.actor_workspace_id,
      actorKeyId: r.actor_key_id,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      ip: r.ip,
      changes: r.changes,
      createdAt: new Date(r.created_at).toISOString(),
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_ts, last.id) : null,
  };
}
