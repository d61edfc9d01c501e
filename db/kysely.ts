import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferKyselyDB } from '@mikro-orm/sql';
import { sql, type InsertObject, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { entities } from './entities/index.js';

/**
 * The database as Kysely sees it, inferred from the entities (`defineEntity`), so a query naming a
 * column or table no entity declares fails typecheck. Names are the database's own: `tableName`
 * and snake_case column names (`workspace_id`, `created_at`), MikroORM's default for getKysely,
 * which runs no naming plugin: rows come back exactly as PostgreSQL returns them, the remaining raw
 * SQL reads the same names, and the hot paths pay for no per-row renaming. Core code maps a row to
 * its camelCase view in one function per table.
 */
export type Db = InferKyselyDB<(typeof entities)[number]>;
export type Table = keyof Db & string;
/** A whole row of `T`, as `select *` returns it. */
export type Row<T extends Table> = Selectable<Db[T]>;
/** What an insert into `T` takes: values or SQL expressions (`sql\`clock_timestamp()\``, `json(…)`). */
export type NewRow<T extends Table> = InsertObject<Db, T>;

/** Tables holding one workspace's data, found by their `workspace_id` column: reach them through `workspaceScope()`. */
export type TenantTable = { [T in Table]: 'workspace_id' extends keyof Db[T] ? T : never }[Table];

/**
 * The typed Kysely bound to `em`: inside `em.transactional(...)` its queries join that transaction.
 * `Db` is passed explicitly rather than inferred from the EntityManager's type parameters, so every
 * fork works alike (request contexts and activities hold a plain `EntityManager`); a bare
 * `em.getKysely()` on such a fork knows no table and fails typecheck at its first query.
 * Tenant tables go through `workspaceScope(em, ws)` instead (core/scope.ts).
 */
export function typedDb(em: EntityManager): Kysely<Db> {
  return em.getKysely<Db>();
}

/**
 * A jsonb parameter. node-postgres sends a JavaScript array as a PostgreSQL array, not as JSON, so
 * every jsonb value is passed through here (objects too, for one rule).
 */
export const json = <T>(value: T): RawBuilder<T> => sql<T>`${JSON.stringify(value)}::jsonb`;
