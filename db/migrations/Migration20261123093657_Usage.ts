import { Migration } from '@mikro-orm/migrations';

/**
 * Usage: raw records (append-only, pruned after GATEHOUSE_USAGE_RETENTION_DAYS), rollups per
 * minute and per day kept incrementally by the batch writer, monthly totals written by the
 * monthly-rollup workflow, and requests for a higher rate limit. The usage tables carry no
 * foreign keys: they are written in bulk on the hot path and a per-row FK check would cost
 * more than the orphans it prevents (retention removes them).
 */
export class Migration20261123093657_Usage extends Migration {

  override name = 'Migration20261123093657_Usage';

  override up(): void | Promise<void> {
    this.addSql(`create table "usage_record" ("id" bigserial primary key, "workspace_id" varchar(64) not null, "key_id" varchar(128) null, "source" varchar(16) not null, "method" varchar(10) not null, "route" varchar(200) not null, "status" smallint not null, "latency_ms" real not null, "code" varchar(32) null, "counted" boolean not null default true, "created_at" timestamptz not null);`);
    this.addSql(`create index "usage_record_workspace_created_index" on "usage_record" ("workspace_id", "created_at" desc, "id" desc);`);
    this.addSql(`create index "usage_record_workspace_key_created_index" on "usage_record" ("workspace_id", "key_id", "created_at" desc);`);
    this.addSql(`create index "usage_record_created_brin" on "usage_record" using brin ("created_at");`);

    this.addSql(`create table "usage_minute" ("workspace_id" varchar(64) not null, "bucket" timestamptz not null, "key_id" varchar(128) not null, "route" varchar(220) not null, "calls" int not null, "errors_4xx" int not null, "errors_5xx" int not null, "latency_sum" double precision not null, "latency_max" real not null, "hist" int[] not null, primary key ("workspace_id", "bucket", "key_id", "route"));`);
    this.addSql(`create table "usage_day" ("workspace_id" varchar(64) not null, "bucket" timestamptz not null, "key_id" varchar(128) not null, "route" varchar(220) not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, "latency_sum" double precision not null, "latency_max" real not null, "hist" bigint[] not null, primary key ("workspace_id", "bucket", "key_id", "route"));`);
    this.addSql(`create table "usage_month" ("workspace_id" varchar(64) not null, "month" date not null, "key_id" varchar(128) not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, "avg_latency_ms" double precision not null, "p95_latency_ms" double precision not null, "updated_at" timestamptz not null, primary key ("workspace_id", "month", "key_id"));`);

    this.addSql(`create table "limit_request" ("id" varchar(40) not null, "workspace_id" varchar(64) not null, "api_key_pk" varchar(40) not null, "key_id" varchar(128) not null, "limit_name" varchar(64) not null, "current_limit" int null, "requested_limit" int not null, "window_seconds" int not null, "reason" varchar(1000) not null default '', "status" varchar(16) not null default 'pending', "requested_by" varchar(128) not null, "decided_by" varchar(128) null, "decided_at" timestamptz null, "decision_note" varchar(1000) null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "limit_request_workspace_id_status_created_at_index" on "limit_request" ("workspace_id", "status", "created_at");`);
    this.addSql(`alter table "limit_request" add constraint "limit_request_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "limit_request" add constraint "limit_request_api_key_pk_foreign" foreign key ("api_key_pk") references "api_key" ("pk") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "limit_request" cascade;`);
    this.addSql(`drop table if exists "usage_month" cascade;`);
    this.addSql(`drop table if exists "usage_day" cascade;`);
    this.addSql(`drop table if exists "usage_minute" cascade;`);
    this.addSql(`drop table if exists "usage_record" cascade;`);
  }

}
