import { HttpError } from './errors.js';

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
      value[1].length <= 128
    ) {
      return { timestamp: value[0], id: value[1] };
    }
  } catch {
    // falls through to the same answer as a well-formed but foreign value
  }
  throw new HttpError(400, 'invalid_input', `${field}: not a cursor this API returned; pass next_cursor from the previous page`, field);
}

/** SQL that renders a timestamptz column the way cursors carry it. */
export const cursorTimestamp = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
