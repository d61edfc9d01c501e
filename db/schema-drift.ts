import type { Orm } from './orm.js';
import { PARTITIONED_TABLES, UNLOGGED_TABLES } from './entities/index.js';

/**
 * The SQL that would make the database match the entities; empty when they agree. MikroORM's own
 * diff does most of it; facts it cannot see are compared here: which tables are UNLOGGED (no
 * entity option exists for that), which are partitioned and by what (`PARTITIONED_TABLES`: the
 * entity option would name every day's partition).
 */
export async function schemaDrift(
  orm: Orm,
  unloggedTables: readonly string[] = UNLOGGED_TABLES,
  partitionedTables: Readonly<Record<string, string>> = PARTITIONED_TABLES,
): Promise<string> {
  const parts = [(await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()];
  parts.push(...(await persistenceDrift(orm, unloggedTables)), ...(await partitionDrift(orm, partitionedTables)));
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
