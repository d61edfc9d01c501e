import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb } from '../../db/kysely.js';

/** The key prefix branding gives new workspaces, or undefined when none is set (they get `gate`). */
export async function brandingKeyPrefix(em: EntityManager): Promise<string | undefined> {
  const row = await typedDb(em).selectFrom('branding').select('key_prefix').where('id', '=', 1).executeTakeFirst();
  return row?.key_prefix ?? undefined;
}
