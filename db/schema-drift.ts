import type { Orm } from './orm.js';
import { PARTITIONED_TABLES, UNLOGGED_TABLES } from './entities/index.js';

/**
 * The SQL that would make the database match the entities; empty when they agree. MikroORM's own
 * diff does most of it; facts it cannot see are compared here: which tables are UNLOGGED (no
 * entity option exists for that), which are partitioned and by what (`PARTITIONED_TABLES`: the
 * entity option would name every day's partition), and the definition of indexes given as raw
 * `expression` SQL (MikroORM matches those by name only).
 */
export async function schemaDrift(
  orm: Orm,
  unloggedTables: readonly string[] = UNLOGGED_TABLES,
  partitionedTables: Readonly<Record<string, string>> = PARTITIONED_TABLES,
): Promise<string> {
  const parts = [(await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()];
  parts.push(...(await persistenceDrift(orm, unloggedTables)), ...(await partitionDrift(orm, partitionedTables)), ...(await rawIndexDrift(orm)));
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

/**
 * A table that should be partitioned and is not (or by another key) cannot be altered in place:
 * the drift names what its migration must do, as a comment, since no one statement does it.
 */
async function partitionDrift(orm: Orm, partitionedTables: Readonly<Record<string, string>>): Promise<string[]> {
  const rows = await orm.em.fork().execute<{ name: string; key: string | null }[]>(
    `select c.relname as name, case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as key
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p') and not c.relispartition`,
  );
  const actual = new Map(rows.map((r) => [r.name, r.key]));
  const normalize = (key: string | null | undefined) => (key ?? '').toLowerCase().replaceAll('"', '').replace(/\s+/g, ' ').trim();
  const out: string[] = [];
  for (const table of entityTables(orm)) {
    if (!actual.has(table)) continue;
    const want = normalize(partitionedTables[table]);
    const have = normalize(actual.get(table));
    if (want === have) continue;
    out.push(
      want
        ? `-- "${table}" must be partitioned by ${want}${have ? `, not ${have}` : ''}: recreate it partition by ${want} and copy its rows (see its migration)`
        : `-- "${table}" must not be partitioned (it is, by ${have}): recreate it as a plain table and copy its rows`,
    );
  }
  return out;
}

/**
 * Lower case, no quotes, no schema prefix, no default `using btree`, single spaces, no `only` (which
 * PostgreSQL prints for an index of a partitioned table: it is made on each partition all the same).
 */
function normalizeIndexSql(sql: string, schema: string): string {
  return sql
    .toLowerCase()
    .replaceAll('"', '')
    .replaceAll(`${schema.toLowerCase()}.`, '')
    .replace(/\s+on\s+only\s+/, ' on ')
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
