import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb } from '../../db/kysely.js';
import { keyChangeSent } from './change-scope.js';

/** PostgreSQL channel on which every API process hears that a key changed and drops it from its cache. */
export const KEY_CHANGED_CHANNEL = 'gatehouse_key_changed';

/**
 * Call after any change that can alter a verification answer (revoke, delete, update, rotation
 * end…), inside the same transaction: PostgreSQL delivers the notification only on commit.
 */
export async function notifyKeyChanged(em: EntityManager, keyPk: string): Promise<void> {
  await sendKeyChange(em, keyPk);
}

/**
 * Every change on the channel goes through here (keys, workspace limits, plans, OAuth), inside the
 * writing transaction: PostgreSQL delivers it on commit, and the request that sent it waits to hear
 * it before answering (core/keys/change-scope.ts).
 */
export async function sendKeyChange(em: EntityManager, payload: string): Promise<void> {
  keyChangeSent();
  await typedDb(em)
    .selectNoFrom((eb) => eb.fn<string>('pg_notify', [eb.val(KEY_CHANGED_CHANNEL), eb.val(payload)]).as('notified'))
    .execute();
}
