import type { EntityManager } from '@mikro-orm/postgresql';
import { badRequest } from '../errors.js';

export interface LogFilters {
  keyId?: string;
  /** Route pattern, exactly as recorded (`/api-keys/{id}`). */
  route?: string;
  method?: string;
  /** An exact status (404) or a class (`4xx`). */
  status?: string;
  source?: 'api' | 'verification' | 'service';
  from?: Date;
  to?: Date;
  cursor?: string;
  limit?: number;
}

export interface LogEntry {
  id: string;
  time: string;
  key_id: string | null;
  source: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  code: string | null;
}

export interface LogPage {
  entries: LogEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

interface Row {
  id: string;
  created_at: Date;
  key_id: string | null;
  source: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  code: string | null;
}

export const STATUS_FILTER = /^([1-5]xx|[1-5]\d\d)$/;

function encodeCursor(r: Row): string {
  return Buffer.from(JSON.stringify([new Date(r.created_at).toISOString(), r.id])).toString('base64url');
}

/** usage_record.id is a bigint: a larger id in a cursor would be a database error, not a 400. */
const MAX_BIGINT = 2n ** 63n - 1n;

function decodeCursor(cursor: string): [Date, string] {
  try {
    const [t, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [unknown, unknown];
    // Exactly what encodeCursor writes: toISOString keeps to years 0000-9999, which PostgreSQL takes.
    if (typeof t !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(t)) throw new Error('bad');
    const at = new Date(t);
    if (Number.isNaN(at.getTime()) || at.toISOString() !== t) throw new Error('bad');
    if (typeof id !== 'string' || !/^\d{1,19}$/.test(id) || BigInt(id) > MAX_BIGINT) throw new Error('bad');
    return [at, id];
  } catch {
    throw badRequest('cursor: not a cursor this API returned', 'cursor');
  }
}

const toEntry = (r: Row): LogEntry => ({
  id: r.id,
  time: new Date(r.created_at).toISOString(),
  key_id: r.key_id,
  source: r.source,
  method: r.method,
  route: r.route,
  status: r.status,
  latency_ms: Math.round(r.latency_ms * 100) / 100,
  code: r.code,
});

/** Newest first, keyset-paginated on (time, id) so pages stay stable while records arrive. */
export async function searchLogs(em: EntityManager, workspaceId: string, f: LogFilters): Promise<LogPage> {
  const where = ['workspace_id = ?'];
  const params: unknown[] = [workspaceId];
  if (f.keyId !== undefined) {
    where.push('key_id = ?');
    params.push(f.keyId);
  }
  if (f.route !== undefined) {
    where.push('route = ?');
    params.push(f.route);
  }
  if (f.method !== undefined) {
    where.push('method = ?');
    params.push(f.method.toUpperCase());
  }
  if (f.source !== undefined) {
    where.push('source = ?');
    params.push(f.source);
  }
  if (f.status !== undefined) {
    if (!STATUS_FILTER.test(f.status)) throw badRequest('status: expected a status such as 404 or a class such as 4xx', 'status');
    if (f.status.endsWith('xx')) {
      const base = Number(f.status[0]) * 100;
      where.push('status >= ? and status < ?');
      params.push(base, base + 100);
    } else {
      where.push('status = ?');
      params.push(Number(f.status));
    }
  }
  if (f.from) {
    where.push('created_at >= ?');
    params.push(f.from);
  }
  if (f.to) {
    where.push('created_at < ?');
    params.push(f.to);
  }
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor);
    where.push('(created_at, id) < (?, ?)');
    params.push(at, id);
  }
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const rows = await em.execute<Row[]>(
    `select id::text as id, created_at, key_id, source, method, route, status, latency_ms, code
       from usage_record where ${where.join(' and ')}
      order by created_at desc, id desc limit ?`,
    [...params, limit + 1],
  );
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return { entries: page.map(toEntry), next_cursor: more ? encodeCursor(page[page.length - 1]!) : null };
}

/** Records newer than `afterId`, oldest first: what a live tail polls for. */
export async function logsAfter(em: EntityManager, workspaceId: string, afterId: string, limit = 200): Promise<LogEntry[]> {
  const rows = await em.execute<Row[]>(
    `select id::text as id, created_at, key_id, source, method, route, status, latency_ms, code
       from usage_record where workspace_id = ? and id > ? order by id limit ?`,
    [workspaceId, afterId, limit],
  );
  return rows.map(toEntry);
}

export async function lastLogId(em: EntityManager, workspaceId: string): Promise<string> {
  const [row] = await em.execute<{ id: string | null }[]>(`select id::text as id from usage_record where workspace_id = ? order by created_at desc, id desc limit 1`, [workspaceId]);
  return row?.id ?? '0';
}
