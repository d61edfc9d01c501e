import type { EntityManager } from '@mikro-orm/postgresql';
import type { Row } from '../../db/kysely.js';
import { encodeCursor } from '../cursor.js';
import { badRequest } from '../errors.js';
import { page } from '../page.js';
import { workspaceScope } from '../scope.js';
import { logRetentionCutoff } from './retention.js';
import { MANAGEMENT_SOURCES, TRAFFIC_SOURCES, type UsageSource } from './recorder.js';

export const LOG_SOURCES = ['api', 'ui', 'verification', 'service'] as const satisfies readonly UsageSource[];
/**
 * Which calls the log shows: `traffic` (the default) the provider's API — verifications and
 * reported calls; `management` the calls to Gatehouse itself — its API with a key (`api`) and the
 * web UI (`ui`); `all` both.
 */
export const LOG_KINDS = ['traffic', 'management', 'all'] as const;
export type LogKind = (typeof LOG_KINDS)[number];

/** The sources a log query reads: one named source, else those of the kind (the provider's traffic by default). */
export function logSources(f: { source?: UsageSource; kind?: LogKind }): readonly UsageSource[] {
  if (f.source !== undefined) return f.kind === undefined || f.kind === 'all' || sourcesOf(f.kind).includes(f.source) ? [f.source] : [];
  return f.kind === undefined ? TRAFFIC_SOURCES : sourcesOf(f.kind);
}

function sourcesOf(kind: LogKind): readonly UsageSource[] {
  return kind === 'traffic' ? TRAFFIC_SOURCES : kind === 'management' ? MANAGEMENT_SOURCES : LOG_SOURCES;
}

export interface LogFilters {
  keyId?: string;
  /** Route pattern, exactly as recorded (`/api-keys/{id}`). */
  route?: string;
  method?: string;
  /** An exact status (404) or a class (`4xx`). */
  status?: string;
  /** One source; without it, the sources of `kind`. */
  source?: UsageSource;
  /** `traffic` unless `source` is given: see LOG_KINDS. */
  kind?: LogKind;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit?: number;
}

export interface LogEntry {
  id: string;
  time: string;
  keyId: string | null;
  source: string;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  code: string | null;
}

export interface LogPage {
  entries: LogEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** The columns a log entry shows, picked from the entity's row. */
type LogRow = Pick<Row<'usage_record'>, (typeof LOG_COLUMNS)[number]>;
export const LOG_COLUMNS = ['id', 'created_at', 'key_id', 'source', 'method', 'route', 'status', 'latency_ms', 'code'] as const;

export const STATUS_FILTER = /^([1-5]xx|[1-5]\d\d)$/;

/**
 * Before page(), log cursors carried the time to the millisecond (`….123Z`). Records are written
 * with millisecond times, so such a cursor, held by a client across the upgrade, is the same
 * position in the one cursor format (`….123000Z`); anything else is left for page() to judge.
 */
function fromMillisecondCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value[0])) {
      return encodeCursor(value[0].slice(0, 23) + '000Z', value[1]);
    }
  } catch {
    // not JSON: page() answers 400
  }
  return cursor;
}

export const toEntry = (r: LogRow): LogEntry => ({
  id: r.id,
  time: new Date(r.created_at).toISOString(),
  keyId: r.key_id,
  source: r.source,
  method: r.method,
  route: r.route,
  status: r.status,
  latencyMs: Math.round(r.latency_ms * 100) / 100,
  code: r.code,
});

/** Newest first, keyset-paginated on (time, id) by page() so pages stay stable while records arrive. */
export async function searchLogs(em: EntityManager, workspaceId: string, f: LogFilters): Promise<LogPage> {
  let q = workspaceScope(em, workspaceId).selectFrom('usage_record').select(LOG_COLUMNS);
  if (f.keyId !== undefined) q = q.where('key_id', '=', f.keyId);
  if (f.route !== undefined) q = q.where('route', '=', f.route);
  if (f.method !== undefined) q = q.where('method', '=', f.method.toUpperCase());
  const sources = logSources(f);
  if (sources.length === 0) return { entries: [], nextCursor: null };
  if (sources.length < LOG_SOURCES.length) q = q.where('source', 'in', sources);
  if (f.status !== undefined) {
    if (!STATUS_FILTER.test(f.status)) throw badRequest('status: expected a status such as 404 or a class such as 4xx', 'status');
    if (f.status.endsWith('xx')) {
      const base = Number(f.status[0]) * 100;
      q = q.where('status', '>=', base).where('status', '<', base + 100);
    } else {
      q = q.where('status', '=', Number(f.status));
    }
  }
  if (f.from) q = q.where('created_at', '>=', f.from);
  if (f.to) q = q.where('created_at', '<', f.to);
  const oldest = await logRetentionCutoff(em, workspaceId);
  if (oldest) q = q.where('created_at', '>=', oldest);
  const limit = Math.min(Math.max(f.limit ?? 50, 1), 500);
  const cursor = f.cursor === undefined ? undefined : fromMillisecondCursor(f.cursor);
  const { items, nextCursor } = await page(q, { time: 'created_at', id: 'id', bigintId: true }, { cursor, limit });
  return { entries: items.map(toEntry), nextCursor };
}
