import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { json, typedDb, type Row } from '../../db/kysely.js';
import { CATALOG_EVENT_TYPES, catalogJsonSchema, type CatalogEventType } from '../events/catalog.js';
import { assertValidPayloadSchema } from '../events/payload-schema.js';
import { HttpError, conflict } from '../errors.js';
import { newId } from '../ids.js';

/** `order.paid`, `invoice.payment_failed`: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const EVENT_TYPE_RULE = 'dot-separated segments of letters, digits, "_" and "-", at most 120 characters (e.g. order.paid)';

/** Sent by POST /webhooks/{id}/test to that endpoint only, whatever it subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test' satisfies CatalogEventType;

/**
 * Namespaces of the events Gatehouse raises itself. Receivers trust a signed `key.revoked` as
 * Gatehouse's word, so no key may publish or register a type in them, in any letter case.
 */
export const RESERVED_EVENT_NAMESPACES = ['key', 'usage', 'credits', 'webhook', 'workspace', 'limits'] as const;

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
  /** JSON Schema (draft 2020-12) of the payload; null for a custom type registered without one. */
  schema: Record<string, unknown> | null;
  /** An example payload: the catalog's, or the first of a custom schema's `examples`. */
  example: Record<string, unknown> | null;
  createdAt: Date;
}

const COLUMNS = ['name', 'description', 'workspace_id', 'schema', 'created_at'] as const satisfies readonly (keyof Row<'event_type'>)[];
type EventTypeRow = Pick<Row<'event_type'>, (typeof COLUMNS)[number]>;

function exampleOf(schema: Record<string, unknown> | null): Record<string, unknown> | null {
  const first: unknown = Array.isArray(schema?.['examples']) ? (schema['examples'] as unknown[])[0] : undefined;
  return first !== null && typeof first === 'object' && !Array.isArray(first) ? (first as Record<string, unknown>) : null;
}

const view = (r: EventTypeRow): EventTypeView => ({
  name: r.name,
  description: r.description,
  builtIn: r.workspace_id === null,
  schema: r.schema,
  example: exampleOf(r.schema),
  createdAt: new Date(r.created_at),
});

/** The id of a built-in type's row, as the first migration seeded them. */
const builtInId = (name: string) => `etb_${name}`;

/**
 * Writes the catalog's types into `event_type` (run at every start-up, by every process that
 * bootstraps): a new type is added, a changed description or schema is brought in line, an
 * unchanged one writes nothing. Safe to run from several processes at once.
 */
export async function seedEventTypes(em: EntityManager): Promise<number> {
  const rows = CATALOG_EVENT_TYPES.map((name) => {
    const schema = catalogJsonSchema(name);
    return {
      id: builtInId(name),
      workspace_id: null,
      name,
      description: String(schema['description']),
      schema: json(schema),
      created_at: sql<Date>`now()`,
    };
  });
  const result = await typedDb(em)
    .insertInto('event_type')
    .values(rows)
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({ description: eb.ref('excluded.description'), schema: eb.ref('excluded.schema') }))
        .where((eb) =>
          eb.or([
            eb('event_type.description', 'is distinct from', eb.ref('excluded.description')),
            eb('event_type.schema', 'is distinct from', eb.ref('excluded.schema')),
          ]),
        ),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

/** Built-in types first, then the workspace's own, each alphabetically. */
export async function listEventTypes(em: EntityManager, workspaceId: string): Promise<EventTypeView[]> {
  const rows = await visibleEventTypes(em, workspaceId).select(COLUMNS).orderBy(sql`workspace_id is not null`).orderBy('name').execute();
  return rows.map(view);
}

/**
 * The types a workspace sees: the built-in ones (no workspace) and its own. The workspace scope
 * cannot say "or no workspace", so this one read names the workspace itself.
 */
function visibleEventTypes(em: EntityManager, workspaceId: string) {
  return typedDb(em)
    .selectFrom('event_type')
    .where((eb) => eb.or([eb('workspace_id', 'is', null), eb('workspace_id', '=', workspaceId)]));
}

export async function createEventType(
  em: EntityManager,
  workspaceId: string,
  input: { name: string; description?: string; schema?: Record<string, unknown> },
): Promise<EventTypeView> {
  assertNotReservedEventType(input.name, 'name');
  if (input.schema) assertValidPayloadSchema(input.schema, 'schema');
  // One statement: a name taken by a built-in type or the workspace's own is refused, racing creations too.
  const db = typedDb(em);
  const schema = input.schema ? json(input.schema) : sql<Record<string, unknown> | null>`null::jsonb`;
  const row = await db
    .insertInto('event_type')
    .columns(['id', 'workspace_id', 'name', 'description', 'schema', 'created_at'])
    .expression(
      db
        .selectNoFrom((eb) => [
          eb.val(newId('et')).as('id'),
          eb.val(workspaceId).as('workspace_id'),
          eb.val(input.name).as('name'),
          eb.val(input.description ?? '').as('description'),
          schema.as('schema'),
          sql<Date>`now()`.as('created_at'),
        ])
        .where((eb) => eb.not(eb.exists(visibleEventTypes(em, workspaceId).select('id').where('name', '=', input.name)))),
    )
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw conflict(`name: event type '${input.name}' already exists`, 'name');
  return view(row);
}

/** Names among `names` that are neither built in nor registered by the workspace. */
export async function unknownEventTypes(em: EntityManager, workspaceId: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await visibleEventTypes(em, workspaceId).select('name').where('name', 'in', [...new Set(names)]).execute();
  const known = new Set(rows.map((r) => r.name));
  return [...new Set(names)].filter((n) => !known.has(n));
}

const unknownTypesError = (unknown: readonly string[], field: string) =>
  new HttpError(
    400,
    'unknown_event_type',
    `${field}: unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; register custom types with POST /event-types`,
    field,
  );

export async function assertEventTypesKnown(em: EntityManager, workspaceId: string, names: readonly string[], field: string): Promise<void> {
  const unknown = await unknownEventTypes(em, workspaceId, names);
  if (unknown.length) throw unknownTypesError(unknown, field);
}

/**
 * The JSON Schema a workspace's custom type `name` carries (null: none, or a built-in type, whose
 * payloads the catalog's zod schema checks); 400 naming `field` when the workspace knows no such type.
 */
export async function customEventTypeSchema(
  em: EntityManager,
  workspaceId: string,
  name: string,
  field: string,
): Promise<Record<string, unknown> | null> {
  const row = await visibleEventTypes(em, workspaceId)
    .select((eb) => eb.case().when('workspace_id', 'is', null).then(sql<null>`null::jsonb`).else(eb.ref('schema')).end().as('schema'))
    .where('name', '=', name)
    .orderBy('workspace_id', (ob) => ob.asc().nullsFirst())
    .limit(1)
    .executeTakeFirst();
  if (!row) throw unknownTypesError([name], field);
  return row.schema;
}
