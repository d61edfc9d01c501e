import { HttpError } from '../errors.js';
import { OPERATOR_EVENT_TYPES } from '../events/catalog.js';
import { hasScope, OPERATOR } from '../permissions.js';

const OPERATOR_TYPES: ReadonlySet<string> = new Set(OPERATOR_EVENT_TYPES);

/**
 * An operator-wide endpoint (`allWorkspaces`) receives the provider-level events of every workspace,
 * so only an operator creates one, and it subscribes to those types only (all of them when it names
 * none): a customer's own events never leave its workspace.
 */
export function operatorEndpointTypes(scopes: ReadonlySet<string> | undefined, types: string[] | null | undefined): string[] {
  if (!scopes || !hasScope(scopes, OPERATOR)) {
    throw new HttpError(403, 'insufficient_permissions', "all_workspaces: only a key holding 'operator' creates or changes an endpoint that receives every workspace's events");
  }
  if (types === undefined || types === null) return [...OPERATOR_EVENT_TYPES].sort();
  if (types.length === 0) throw new HttpError(400, 'invalid_input', 'event_types: omit it to subscribe to every operator event type; an empty list subscribes to none', 'event_types');
  const other = types.find((t) => !OPERATOR_TYPES.has(t));
  if (other !== undefined) {
    throw new HttpError(400, 'invalid_input', `event_types: '${other.slice(0, 100)}' is not an operator event type (${OPERATOR_EVENT_TYPES.join(', ')})`, 'event_types');
  }
  return [...new Set(types)].sort();
}

export const isOperatorEventType = (type: string): boolean => OPERATOR_TYPES.has(type);
