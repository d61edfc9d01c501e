import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import type { Logger } from '../log.js';

export interface DispatchMarksOptions {
  /** A fresh EntityManager for each write. */
  em: () => EntityManager;
  log: Logger;
  /** How long a mark may wait for others to share its statement; the sweeper looks only at events a minute old. */
  everyMs?: number;
  /** A batch this large is written at once. */
  maxBatch?: number;
}

/**
 * Marks events as dispatched once their delivery workflows have started, many events in one
 * UPDATE: publishing answered only after a statement and commit of its own, one of four PostgreSQL
 * transactions a delivery (BENCHMARKS.md, "Events marked dispatched in batches").
 *
 * A mark only tells the outbox sweeper that nothing is left to start. One lost to a crash before its
 * write costs nothing but a sweep: a minute later the sweeper starts the event's fan-out, whose
 * delivery workflows already exist (REJECT_DUPLICATE), so nothing is delivered twice. A delivery is
 * never waiting on a mark.
 */
export class DispatchMarks {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly everyMs: number;
  private readonly maxBatch: number;

  constructor(private readonly opts: DispatchMarksOptions) {
    this.everyMs = opts.everyMs ?? 500;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  /** Notes an event whose delivery workflows all started; written within `everyMs`. */
  mark(eventId: string): void {
    this.pending.push(eventId);
    if (this.pending.length >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.everyMs).unref();
  }

  /** Writes every mark noted so far; resolves once they are committed (or given up on, logged). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ids = this.pending;
    if (ids.length === 0) return this.writing;
    this.pending = [];
    // One statement at a time, in order: a flush resolves after every mark before it.
    this.writing = this.writing.then(() => this.write(ids));
    return this.writing;
  }

  private async write(ids: string[]): Promise<void> {
    try {
      // Every workspace's events by id: ids this process just stored, not a workspace's read.
      await typedDb(this.opts.em())
        .updateTable('event')
        .set({ dispatched_at: sql<Date>`now()` })
        .where('id', 'in', ids)
        .where('dispatched_at', 'is', null)
        .execute();
    } catch (err) {
      // Left undispatched, the events are the sweeper's: started again, as no-ops, within a minute.
      this.opts.log.warn({ err, events: ids.length }, 'events not marked dispatched; the outbox sweeper will see to them');
    }
  }
}
