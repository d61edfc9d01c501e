import { Migration } from '@mikro-orm/migrations';

/**
 * Raw usage records move into a table partitioned by day (RANGE on created_at), so retention drops
 * whole days instead of deleting rows (docs/usage.md, "Storage"). An install upgrades in place, in
 * the migration's one transaction: the old table is renamed, the partitioned one created with the
 * same columns and the same id sequence, a partition made for every day the old rows cover (and
 * for yesterday through a week ahead, as core/usage/partitions.ts keeps them), the rows copied
 * with their ids, the old table dropped. The primary key becomes (id, created_at): a partitioned
 * table's unique keys must hold its partition key; ids stay unique, drawn from the one sequence.
 */
export class Migration20261201080000_UsagePartitions extends Migration {

  override name = 'Migration20261201080000_UsagePartitions';

  override up(): void | Promise<void> {
    this.addSql(`alter table "usage_record" rename to "usage_record_unpartitioned";`);
    this.addSql(`alter table "usage_record_unpartitioned" drop constraint "usage_record_pkey";`);
    this.addSql(`drop index "usage_record_workspace_created_index", "usage_record_workspace_key_created_index", "usage_record_created_brin";`);
    // The sequence outlives the old table: new rows continue after the copied ids.
    this.addSql(`alter sequence "usage_record_id_seq" owned by none;`);
    this.addSql(`create table "usage_record" ("id" bigint not null default nextval('usage_record_id_seq'), "workspace_id" varchar(64) not null, "key_id" varchar(128) null, "source" varchar(16) not null, "method" varchar(10) not null, "route" varchar(200) not null, "status" smallint not null, "latency_ms" real not null, "code" varchar(32) null, "counted" boolean not null default true, "created_at" timestamptz not null, primary key ("id", "created_at")) partition by range ("created_at");`);
    this.addSql(`alter sequence "usage_record_id_seq" owned by "usage_record"."id";`);
    this.addSql(`create table "usage_record_default" partition of "usage_record" default;`);
    this.addSql(`do $$
declare d timestamptz;
begin
  for d in
    select distinct date_trunc('day', created_at, 'UTC') from usage_record_unpartitioned
    union
    select generate_series(date_trunc('day', now(), 'UTC') - interval '1 day', date_trunc('day', now(), 'UTC') + interval '7 days', interval '1 day')
  loop
    execute format('create table %I partition of usage_record for values from (%L) to (%L)',
      'usage_record_p' || to_char(d at time zone 'UTC', 'YYYYMMDD'), d, d + interval '1 day');
  end loop;
end $$;`);
    this.addSql(`insert into "usage_record" select * from "usage_record_unpartitioned";`);
    this.addSql(`drop table "usage_record_unpartitioned";`);
    this.addSql(`create index "usage_record_workspace_created_index" on "usage_record" ("workspace_id", "created_at" desc, "id" desc);`);
    this.addSql(`create index "usage_record_workspace_key_created_index" on "usage_record" ("workspace_id", "key_id", "created_at" desc);`);
    this.addSql(`create index "usage_record_created_brin" on "usage_record" using brin ("created_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "usage_record" rename to "usage_record_partitioned";`);
    this.addSql(`alter sequence "usage_record_id_seq" owned by none;`);
    this.addSql(`alter table "usage_record_partitioned" drop constraint "usage_record_pkey";`);
    this.addSql(`drop index "usage_record_workspace_created_index", "usage_record_workspace_key_created_index", "usage_record_created_brin";`);
    this.addSql(`create table "usage_record" ("id" bigint not null default nextval('usage_record_id_seq') primary key, "workspace_id" varchar(64) not null, "key_id" varchar(128) null, "source" varchar(16) not null, "method" varchar(10) not null, "route" varchar(200) not null, "status" smallint not null, "latency_ms" real not null, "code" varchar(32) null, "counted" boolean not null default true, "created_at" timestamptz not null);`);
    this.addSql(`alter sequence "usage_record_id_seq" owned by "usage_record"."id";`);
    this.addSql(`insert into "usage_record" select * from "usage_record_partitioned";`);
    this.addSql(`drop table "usage_record_partitioned";`);
    this.addSql(`create index "usage_record_workspace_created_index" on "usage_record" ("workspace_id", "created_at" desc, "id" desc);`);
    this.addSql(`create index "usage_record_workspace_key_created_index" on "usage_record" ("workspace_id", "key_id", "created_at" desc);`);
    this.addSql(`create index "usage_record_created_brin" on "usage_record" using brin ("created_at");`);
  }

}
