import { HttpError } from './errors.js';
import { unstorableText } from './text.js';

/**
 * Opaque page cursors: the last row's exact timestamp (microseconds, as PostgreSQL keeps it) and
 * its id, so a page boundary never skips or repeats rows that share a timestamp.
 */
export function encodeCursor(timestamp: string, id: string): string {
  return Buffer.from(JSON.stringify([timestamp, id])).toString('base64url');
}

export function decodeCursor(cursor: string, field = 'cursor'): { timestamp: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value[0]) &&
      // The right shape is not yet a time: PostgreSQL refuses month 13 or hour 25 with an error.
      isRealTimestamp(value[0]) &&
      value[1].length <= 128 &&
      unstorableText(value[1]) === undefined
    ) {
      return { timestamp: value[0], id: value[1] };
    }
  } catch {
    // falls through to the same answer as a well-formed but foreign value
  }
  throw new HttpError(400, 'invalid_input', `${field}: not a cursor this API returned; pass next_cursor from the previous page`, field);
}

/**
 * Whether `2024-01-15T10:30:00.123456Z` names a time PostgreSQL has: JavaScript rolls 2024-02-30
 * over to March where PostgreSQL refuses it, and PostgreSQL has no year 0.
 */
function isRealTimestamp(ts: string): boolean {
  const millis = ts.slice(0, 23) + 'Z';
  const parsed = new Date(millis);
  return !ts.startsWith('0000') && !Number.isNaN(parsed.getTime()) && parsed.toISOString() === millis;
}

/** The `to_char` format of a cursor's timestamp (UTC, microseconds): core/page.ts and cursorTimestamp use it. */
export const CURSOR_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/** SQL that renders a timestamptz column the way cursors carry it (for lists not yet on core/page.ts). */
export const cursorTimestamp = (column: string) => `to_char(${column} at time zone 'UTC', '${CURSOR_TIMESTAMP_FORMAT}')`;
