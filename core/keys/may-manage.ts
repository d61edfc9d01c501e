import type { Row } from '../../db/kysely.js';
import { HttpError, truncate } from '../errors.js';
import { ungrantable } from '../permissions.js';

/** The acting key as the key rules see it. */
export interface ManagingKey {
  keyPk: string;
  scopes: ReadonlySet<string>;
}

/**
 * A key may only act on itself or on keys whose permissions it could have granted: a `write` key
 * cannot disable, re-limit or decide requests for the admin's key.
 */
export function assertMayManage(actor: ManagingKey, target: Pick<Row<'api_key'>, 'pk' | 'id' | 'permissions'>, verb: string): void {
  if (target.pk === actor.keyPk) return;
  const above = ungrantable(actor.scopes, target.permissions);
  if (above) {
    throw new HttpError(
      403,
      'insufficient_permissions',
      `This API key cannot ${verb} key '${truncate(target.id)}': that key holds '${truncate(above)}', which this key does not`,
    );
  }
}
