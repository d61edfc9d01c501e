import type { Orm } from './orm.js';
import { UNLOGGED_TABLES } from './entities/index.js';

/**
 * The SQL that would make the database match the entities; empty when they agree. MikroORM's own
 * diff does most of it; two facts it cannot see are compared here: which tables are UNLOGGED
 * (no entity option exists for that) and the definition of indexes given as raw `expression` SQL
 * (MikroORM matches those by name only).
 */
export async function schemaDrift(orm: Orm, unloggedTables: readonly string[] = UNLOGGED_TABLES): Promise<string> {
  const parts = [(await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()];
  parts.push(...(await persistenceDrift(orm, unloggedTables)), ...(await rawIndexDrift(orm)));
  return parts.filter(Boolean).join('\n');
}

function entityTables(orm: Orm): string[] {
  return [...orm.getMetadata().getAll().values()].filter((m) => !m.virtual && !m.embeddable && m.tableName).map((m) => m.tableName);
}

async function persistenceDrift(orm: Orm, unloggedTables: readonly string[]): Promise<string[]> {
  const rows = await orm.em.fork().execute<{ name: string; persistence: string }[]>(
    `select c.relname as name, c.relpersistence as persistence
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p')`,
  );
  const persistence = new Map(rows.map((r) => [r.name, r.persistence]));
  const out: string[] = [];
  for (const table of entityTables(orm)) {
    const actual = persistence.get(table);
    // A missing table is already in MikroORM's diff, created the way its entity says.
    if (actual === undefined) continue;
    const unlogged = unloggedTables.includes(table);
    if (unlogged && actual !== 'u') out.push(`alter table "${table}" set unlogged;`);
    if (!unlogged && actual === 'u') out.push(`alter table "${table}" set logged;`);
  }
  return out;
}

/** Lower case, no quotes, no schema prefix, no default `using btree`, single spaces. */
function normalizeIndexSql(sql: string, schema: string): string {
  return sql
    .toLowerCase()
    .replaceAll('"', '')
    .replaceAll(`${schema.toLowerCase()}.`, '')
    .replace(/\s+using\s+btree\s*/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/\(\s+/g, '(')
    .replace(/\s+\)/g, ')')
    .replace(/\s*;\s*$/, '')
    .trim();
}

async function rawIndexDrift(orm: Orm): Promise<string[]> {
  const raw = [...orm.getMetadata().getAll().values()].flatMap((m) =>
    [...m.indexes, ...m.uniques].flatMap((i) => (typeof i.expression === 'string' && i.name ? [{ name: i.name, expression: i.expression }] : [])),
  );
  if (raw.length === 0) return [];
  const rows = await orm.em.fork().execute<{ name: string; definition: string; schema: string }[]>(
    `select indexname as name, indexdef as definition, current_schema() as schema from pg_indexes where schemaname = current_schema()`,
  );
  const actual = new Map(rows.map((r) => [r.name, r]));
  const out: string[] = [];
  for (const index of raw) {
    const found = actual.get(index.name);
    // A missing index is already in MikroORM's diff.
    if (!found) continue;
    if (normalizeIndexSql(found.definition, found.schema) !== normalizeIndexSql(index.expression, found.schema)) {
      out.push(`drop index "${index.name}";`, `${index.expression.trim().replace(/;?$/, ';')}`);
    }
  }
  return out;
}
