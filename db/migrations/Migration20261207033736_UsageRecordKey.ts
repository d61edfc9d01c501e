import { Migration } from '@mikro-orm/migrations';

/**
 * usage_record's primary key becomes the request log's order, (workspace_id, created_at, id), and
 * the index that held that order goes: one btree less to keep up on every verification's row
 * (BENCHMARKS.md, "One btree less a usage record"). The new key is built on every day partition,
 * under a lock that holds the table's writes (the usage recorder retries its batches meanwhile);
 * on a large install run it at a quiet hour.
 */
export class Migration20261207033736_UsageRecordKey extends Migration {

  override name = 'Migration20261207033736_UsageRecordKey';

  override up(): void | Promise<void> {
    this.addSql(`drop index "usage_record_workspace_created_index";`);
    this.addSql(`alter table "usage_record" drop constraint "usage_record_pkey";`);
    this.addSql(`alter table "usage_record" add primary key ("workspace_id", "created_at", "id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "usage_record" drop constraint "usage_record_pkey";`);
    this.addSql(`alter table "usage_record" add primary key ("id", "created_at");`);
    this.addSql(`create index "usage_record_workspace_created_index" on "usage_record" ("workspace_id", "created_at" desc, "id" desc);`);
  }

}
