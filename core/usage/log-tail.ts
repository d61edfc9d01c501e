import type { EntityManager } from '@mikro-orm/postgresql';
import { workspaceScope } from '../scope.js';
import { LOG_COLUMNS, toEntry, type LogEntry } from './logs.js';
import type { UsageSource } from './recorder.js';

/**
 * How far back from now a live tail looks for records it has not shown. A record reaches the table
 * a flush interval (1 s) and a batch write after its time, and the recorder's two writers (and
 * several API processes) commit in any order, so neither ids nor times arrive in order. A record
 * written later than this after its own time (a batch retried after an outage, a call reported late
 * through POST /v1/usage) is in the log but not in the tails open then.
 */
export const TAIL_WINDOW_MS = 10_000;

/**
 * A live tail of one workspace's log: each poll reads the ids of the workspace's records stamped
 * within the window, a range of usage_record's primary key (workspace, time, id), and shows those
 * it has not seen, oldest first. So every record written while the tail is open is shown once,
 * whatever order commits land in, and a poll reads the window of this workspace's records only:
 * not the workspace's whole log, not the other workspaces' traffic.
 */
export class LogTail {
  /** Ids read within the window, with their times (epoch ms): shown, or there when the tail opened. */
  private readonly seen = new Map<string, number>();

  private constructor(
    private readonly workspaceId: string,
    private readonly sources: readonly UsageSource[],
  ) {}

  /** A tail from now on: records already in the window when it opens are never shown. */
  static async open(em: EntityManager, workspaceId: string, sources: readonly UsageSource[]): Promise<LogTail> {
    const tail = new LogTail(workspaceId, sources);
    const from = Date.now() - TAIL_WINDOW_MS;
    for (const r of await tail.window(em, from)) tail.seen.set(r.id, new Date(r.created_at).getTime());
    return tail;
  }

  /**
   * Records written since the last poll, oldest first, at most `limit` (read, shown or not: a tail
   * of the provider's traffic is not held up by the UI's own calls); `more` when others wait.
   */
  async poll(em: EntityManager, limit = 200): Promise<{ entries: LogEntry[]; more: boolean }> {
    const from = Date.now() - TAIL_WINDOW_MS;
    for (const [id, at] of this.seen) if (at < from) this.seen.delete(id);
    const fresh = (await this.window(em, from)).filter((r) => !this.seen.has(r.id));
    if (fresh.length === 0) return { entries: [], more: false };
    const taking = fresh.slice(0, limit);
    for (const r of taking) this.seen.set(r.id, new Date(r.created_at).getTime());
    const more = fresh.length > limit;
    if (this.sources.length === 0) return { entries: [], more };
    const rows = await workspaceScope(em, this.workspaceId)
      .selectFrom('usage_record')
      .select(LOG_COLUMNS)
      .where('created_at', '>=', new Date(from))
      .where(
        'id',
        'in',
        taking.map((r) => r.id),
      )
      .where('source', 'in', this.sources)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return { entries: rows.map(toEntry), more };
  }

  /** The window's ids, read from the primary key alone. */
  private window(em: EntityManager, from: number) {
    return workspaceScope(em, this.workspaceId)
      .selectFrom('usage_record')
      .select(['id', 'created_at'])
      .where('created_at', '>=', new Date(from))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }
}
