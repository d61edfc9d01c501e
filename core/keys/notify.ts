import type { EntityManager } from '@mikro-orm/postgresql';

/** PostgreSQL channel on which every API process hears that a key changed and drops it from its cache. */
export const KEY_CHANGED_CHANNEL = 'gatehouse_key_changed';

/**
 * Call after any change that can alter a verification answer (revoke, delete, update, rotation
 * end…), inside the same transaction: PostgreSQL delivers the notification only on commit.
 */
export async function notifyKeyChanged(em: EntityManager, keyPk: string): Promise<void> {
  await em.execute(`select pg_notify(?, ?)`, [KEY_CHANGED_CHANNEL, keyPk]);
}
