import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityName, FilterQuery, RequiredEntityData } from '@mikro-orm/core';
import type { DeleteQueryBuilder, DeleteResult, InsertQueryBuilder, InsertResult, Kysely, SelectQueryBuilder, UpdateQueryBuilder, UpdateResult } from 'kysely';
import { typedDb, type Db, type NewRow, type TenantTable } from '../db/kysely.js';
import type { HttpError } from './errors.js';

/**
 * The only way core code reaches a workspace's rows (svix's `secure_find`): every query it builds
 * already says `workspace_id = <this workspace>`, so a query that forgets the workspace cannot be
 * written by accident, and another workspace's object is simply not there (the same 404 as a
 * missing one). test/data-layer/scope.test.ts fails when a converted module queries a tenant
 * table around it.
 */
export interface WorkspaceScope {
  readonly workspaceId: string;
  /** `select … from <table> where <table>.workspace_id = :ws`; add `select`, `where`, `orderBy`. */
  selectFrom<T extends TenantTable>(table: T): SelectQueryBuilder<Db, T, {}>;
  /** `update <table> … where workspace_id = :ws`. */
  updateTable<T extends TenantTable>(table: T): UpdateQueryBuilder<Db, T, T, UpdateResult>;
  /** `delete from <table> where workspace_id = :ws`. */
  deleteFrom<T extends TenantTable>(table: T): DeleteQueryBuilder<Db, T, DeleteResult>;
  /** `insert into <table>`, `workspace_id` set to the scope's. */
  insertInto<T extends TenantTable>(table: T, values: Omit<NewRow<T>, 'workspace_id'>): InsertQueryBuilder<Db, T, InsertResult>;
  /** Entities of a workspace-owned type (a `workspace` relation or `workspaceId` column) matching `where`, in this workspace. */
  find<E extends object>(entity: EntityName<E>, where?: FilterQuery<E>): Promise<E[]>;
  /** One entity in this workspace, or `missing()` (a 404) when it is absent or another workspace's. */
  findOneOrFail<E extends object>(entity: EntityName<E>, where: FilterQuery<E>, missing: () => HttpError): Promise<E>;
  /** A new entity of this workspace, persisted (written by the next flush). */
  create<E extends object>(entity: EntityName<E>, data: Omit<RequiredEntityData<E>, 'workspace' | 'workspaceId'>): E;
}

/** Kysely's builders are generic in the table; the scope adds its one condition through this view of them. */
type AnyTenantSelect = SelectQueryBuilder<Db, TenantTable, {}>;

export function workspaceScope(em: EntityManager, workspaceId: string): WorkspaceScope {
  const db: Kysely<Db> = typedDb(em);
  /** The property naming an entity's workspace: a `workspace` relation, or a plain `workspaceId` (the usage tables). */
  const owner = <E extends object>(entity: EntityName<E>): string => {
    const meta = em.getMetadata().find(entity);
    const property = ['workspace', 'workspaceId'].find((name) => meta?.properties[name as never]);
    if (!property) {
      throw new Error(`${meta?.className ?? String(entity)} is not owned by a workspace; workspaceScope() reaches workspace-owned entities only`);
    }
    return property;
  };
  return {
    workspaceId,
    selectFrom: <T extends TenantTable>(table: T) =>
      (db.selectFrom(table) as unknown as AnyTenantSelect).where(`${table}.workspace_id` as 'workspace_id', '=', workspaceId) as unknown as SelectQueryBuilder<Db, T, {}>,
    updateTable: <T extends TenantTable>(table: T) =>
      (db.updateTable(table) as unknown as UpdateQueryBuilder<Db, TenantTable, TenantTable, UpdateResult>).where('workspace_id', '=', workspaceId) as unknown as UpdateQueryBuilder<Db, T, T, UpdateResult>,
    deleteFrom: <T extends TenantTable>(table: T) =>
      (db.deleteFrom(table) as unknown as DeleteQueryBuilder<Db, TenantTable, DeleteResult>).where('workspace_id', '=', workspaceId) as unknown as DeleteQueryBuilder<Db, T, DeleteResult>,
    insertInto: <T extends TenantTable>(table: T, values: Omit<NewRow<T>, 'workspace_id'>) =>
      db.insertInto(table).values({ ...values, workspace_id: workspaceId } as unknown as NewRow<T>) as InsertQueryBuilder<Db, T, InsertResult>,
    async find<E extends object>(entity: EntityName<E>, where: FilterQuery<E> = {} as FilterQuery<E>) {
      const mine = { [owner(entity)]: workspaceId };
      return (await em.find(entity, { $and: [where, mine] } as FilterQuery<NoInfer<E>>)) as E[];
    },
    async findOneOrFail<E extends object>(entity: EntityName<E>, where: FilterQuery<E>, missing: () => HttpError) {
      const mine = { [owner(entity)]: workspaceId };
      const found = await em.findOne(entity, { $and: [where, mine] } as FilterQuery<NoInfer<E>>);
      if (!found) throw missing();
      return found as E;
    },
    create<E extends object>(entity: EntityName<E>, data: Omit<RequiredEntityData<E>, 'workspace' | 'workspaceId'>) {
      return em.create(entity, { ...data, [owner(entity)]: workspaceId } as unknown as RequiredEntityData<E>);
    },
  };
}
