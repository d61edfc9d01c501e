import { randomBytes } from 'node:crypto';

/** Typed, prefixed ids (`ws_`, `ep_`, `msg_`...) from one generator, so an id says what it names. */
export function newId(prefix: string, bytes = 8): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

