import { HttpError, truncate } from '../errors.js';
import { isWorkspaceAdmin, OPERATOR } from '../permissions.js';
import type { ManagingKey } from './may-manage.js';

/**
 * Who may loosen a key's rate limits or credits (see limit-order.ts for what "looser" means).
 * Limits are what bound a key that leaks or misbehaves, so a `keys:write` key must not be able to
 * lift them, on itself, on a sibling, or by minting a limitless clone.
 */

export type LimitField = 'rate_limits' | 'credits';

/** The workspace admin (admin preset) or an operator: the only keys that set limits freely. */
export function mayLoosenLimits(scopes: ReadonlySet<string>): boolean {
  return isWorkspaceAdmin(scopes) || scopes.has(OPERATOR);
}

const refuse = (field: LimitField, message: string) => new HttpError(403, 'insufficient_permissions', `${field}: ${message}`, field);

/**
 * A change to `target`'s limits that `looser` describes (from limit-order.ts; undefined when the
 * change only tightens) is refused unless `actor` is the admin acting on another key: no key ever
 * loosens its own limits, the admin's included.
 */
export function assertMayLoosen(actor: ManagingKey, target: { pk: string; id: string }, field: LimitField, looser: string | undefined): void {
  if (looser === undefined) return;
  if (target.pk === actor.keyPk) {
    throw refuse(field, `an API key cannot loosen its own limits (this change ${looser}); another admin key can`);
  }
  if (!mayLoosenLimits(actor.scopes)) {
    throw refuse(field, `only the workspace admin may loosen the limits of key '${truncate(target.id)}' (this change ${looser}); this key may only tighten them`);
  }
}

/** A key created by a non-admin is no looser than its creator; `looser` compares the new key with it. */
export function assertNoLooserThanCreator(actor: ManagingKey, field: LimitField, looser: string | undefined): void {
  if (looser === undefined || mayLoosenLimits(actor.scopes)) return;
  throw refuse(field, `a key this API key creates cannot be looser than this key itself (compared with it, the new key ${looser})`);
}
