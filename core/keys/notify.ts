import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb } from '../../db/kysely.js';

/** PostgreSQL channel on which every API process hears that a key changed and drops it from its cache. */
export const KEY_CHANGED_CHANNEL = 'gatehouse_key_changed';

/**
 * Call after any change that can alter a verification answer (revoke, delete, update, rotation
 * end…), inside the same transaction: PostgreSQL delivers the notification only on commit.
 */
export async function notifyKeyChanged(em: EntityManager, keyPk: string): Promise<void> {
  await typedDb(em)
    .selectNoFrom((eb) => eb.fn<string>('pg_notify', [eb.val(KEY_CHANGED_CHANNEL), eb.val(keyPk)]).as('notified'))
    .execute();
}
