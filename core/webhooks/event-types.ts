import type { EntityManager } from '@mikro-orm/postgresql';
import { HttpError, conflict } from '../errors.js';
import { newId } from '../ids.js';

/** `order.paid`, `invoice.payment_failed`: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const EVENT_TYPE_RULE = 'dot-separated segments of letters, digits, "_" and "-", at most 120 characters (e.g. order.paid)';

/** Sent by POST /webhooks/{id}/test to that endpoint only, whatever it subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test';

/**
 * Namespaces of the events Gatehouse raises itself. Receivers trust a signed `key.revoked` as
 * Gatehouse's word, so no key may publish or register a type in them, in any letter case.
 */
export const RESERVED_EVENT_NAMESPACES = ['key', 'usage', 'credits', 'webhook'] as const;

export function isReservedEventType(name: string): boolean {
  const namespace = name.split('.')[0]!.toLowerCase();
  return (RESERVED_EVENT_NAMESPACES as readonly string[]).includes(namespace);
}

/** 400 naming `field` when `name` is in one of Gatehouse's own namespaces. */
export function assertNotReservedEventType(name: string, field: string): void {
  if (!isReservedEventType(name)) return;
  throw new HttpError(
    400,
    'reserved_event_type',
    `${field}: '${name.slice(0, 120)}' is in a namespace Gatehouse raises events in itself (${RESERVED_EVENT_NAMESPACES.map((n) => `${n}.`).join(', ')}); use a name of your own, such as order.paid`,
    field,
  );
}

export interface EventTypeView {
  name: string;
  description: string;
  builtIn: boolean;
  createdAt: Date;
}

interface Row {
  name: string;
  description: string;
  workspace_id: string | null;
  created_at: Date;
}

const view = (r: Row): EventTypeView => ({
  name: r.name,
  description: r.description,
  builtIn: r.workspace_id === null,
  createdAt: new Date(r.created_at),
});

/** Built-in types first, then the workspace's own, each alphabetically. */
export async function listEventTypes(em: EntityManager, workspaceId: string): Promise<EventTypeView[]> {
  const rows = await em.execute<Row[]>(
    `select name, description, workspace_id, created_at from event_type
      where workspace_id is null or workspace_id = ?
      order by workspace_id is not null, name`,
    [workspaceId],
  );
  return rows.map(view);
}

export async function createEventType(
  em: EntityManager,
  workspaceId: string,
  input: { name: string; description?: string },
): Promise<EventTypeView> {
  assertNotReservedEventType(input.name, 'name');
  const rows = await em.execute<Row[]>(
    `insert into event_type (id, workspace_id, name, description, created_at)
     select ?, ?, ?, ?, now()
      where not exists (select 1 from event_type where name = ? and (workspace_id is null or workspace_id = ?))
     on conflict (workspace_id, name) do nothing
     returning name, description, workspace_id, created_at`,
    [newId('et'), workspaceId, input.name, input.description ?? '', input.name, workspaceId],
  );
  if (rows.length === 0) throw conflict(`name: event type '${input.name}' already exists`, 'name');
  return view(rows[0]!);
}

/** Names among `names` that are neither built in nor registered by the workspace. */
export async function unknownEventTypes(em: EntityManager, workspaceId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await em.execute<{ name: string }[]>(
    `select name from event_type where (workspace_id is null or workspace_id = ?) and name in (select jsonb_array_elements_text(?::jsonb))`,
    [workspaceId, JSON.stringify(names)],
  );
  const known = new Set(rows.map((r) => r.name));
  return [...new Set(names)].filter((n) => !known.has(n));
}

export async function assertEventTypesKnown(em: EntityManager, workspaceId: string, names: readonly string[], field: string): Promise<void> {
  const unknown = await unknownEventTypes(em, workspaceId, names);
  if (unknown.length) {
    throw new HttpError(
      400,
      'unknown_event_type',
      `${field}: unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; register custom types with POST /event-types`,
      field,
    );
  }
}
