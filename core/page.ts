import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db, Row, Table } from '../db/kysely.js';
import { CURSOR_TIMESTAMP_FORMAT, decodeCursor, encodeCursor } from './cursor.js';

export interface PageRequest {
  /** `next_cursor` of the previous page, as the client sent it back. */
  cursor?: string;
  limit: number;
  /** The input field the cursor came in, for the 400 a foreign cursor gets. */
  cursorField?: string;
}

export interface Page<O> {
  items: O[];
  nextCursor: string | null;
}

/** Columns of `T` whose values are times: what a list pages on. */
type TimeColumn<T extends Table> = { [C in keyof Row<T>]: Row<T>[C] extends Date ? C : never }[keyof Row<T>] & string;
type TextColumn<T extends Table> = { [C in keyof Row<T>]: Row<T>[C] extends string ? C : never }[keyof Row<T>] & string;

/** What a list pages on: a time column, and a unique id column that breaks ties. */
export interface PageOrder<T extends Table> {
  time: TimeColumn<T>;
  id: TextColumn<T>;
  /**
   * The id column is a `bigint` (read as a string, as node-postgres returns int8): a cursor's id
   * must then be one, or PostgreSQL would refuse the comparison with an error instead of a 400.
   */
  bigintId?: boolean;
}

const MAX_BIGINT = 2n ** 63n - 1n;
const isBigint = (id: string) => /^\d{1,19}$/.test(id) && BigInt(id) <= MAX_BIGINT;

/**
 * Every list pages the same way: newest first on (`time`, `id`) — a timestamp column and a unique
 * text column of the table (a bigint one with `bigintId`) — with the one cursor format of core/cursor.ts, which carries the last
 * row's exact timestamp (microseconds, rendered by PostgreSQL) and id, so a page boundary never
 * skips or repeats rows that share a timestamp. `query` holds the list's own filters; `page` adds
 * the cursor condition, the order and the limit (one row more than asked, to know whether there is
 * a next page).
 */
export async function page<T extends Table, O>(
  query: SelectQueryBuilder<Db, T, O>,
  order: PageOrder<T>,
  request: PageRequest,
): Promise<Page<O>> {
  const time = sql.ref(order.time);
  const id = sql.ref(order.id);
  // The builder is generic in its table; the columns were checked against it above.
  let q = (query as unknown as SelectQueryBuilder<Db, Table, O>)
    .select(sql<string>`to_char(${time} at time zone 'UTC', ${sql.lit(CURSOR_TIMESTAMP_FORMAT)})`.as('page_ts'))
    .select(sql<string>`${id}`.as('page_id'));
  if (request.cursor) {
    const c = decodeCursor(request.cursor, request.cursorField);
    // decodeCursor's own 400 for an id no row of this list can have: the same answer as any foreign cursor.
    if (order.bigintId && !isBigint(c.id)) decodeCursor('', request.cursorField);
    const after = order.bigintId ? sql`${c.id}::bigint` : sql`${c.id}`;
    q = q.where(sql<boolean>`(${time}, ${id}) < (${c.timestamp}::timestamptz, ${after})`);
  }
  const rows = await q.orderBy(time, 'desc').orderBy(id, 'desc').limit(request.limit + 1).execute();
  const items: O[] = [];
  for (const row of rows.slice(0, request.limit)) {
    const { page_ts: _ts, page_id: _id, ...item } = row;
    items.push(item as O);
  }
  const last = rows[request.limit - 1];
  return { items, nextCursor: rows.length > request.limit && last ? encodeCursor(last.page_ts, last.page_id) : null };
}
