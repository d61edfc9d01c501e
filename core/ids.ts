import { randomBytes } from 'node:crypto';

/** Typed, prefixed ids (`ws_`, `ep_`, `msg_`...) from one generator, so an id says what it names. */
export function newId(prefix: string, bytes = 8): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

/** Ids chosen by callers (key ids, workspace ids): readable, URL-safe, bounded. */
export const CALLER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const CALLER_ID_RULE = '1-128 characters: letters, digits, "_", "-" and ".", starting with a letter or digit';
