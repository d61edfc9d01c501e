import { Migration } from '@mikro-orm/migrations';

export class Migration20261123091902_Initial extends Migration {

  override name = 'Migration20261123091902_Initial';

  override up(): void | Promise<void> {
    this.addSql(`create table "workspace" ("id" varchar(64) not null, "name" varchar(200) not null, "key_prefix" varchar(16) not null default 'gate', "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "api_key" ("pk" varchar(40) not null, "workspace_id" varchar(64) not null, "id" varchar(128) not null, "name" varchar(200) not null default '', "environment" varchar(8) not null default 'live', "permissions" jsonb not null, "rate_limits" jsonb not null, "credits_remaining" int null, "credits_refill_amount" int null, "credits_refill_interval" varchar(8) null, "credits_refilled_at" timestamptz null, "expires_at" timestamptz null, "ip_allowlist" jsonb not null, "rotation_policy_days" int null, "metadata" jsonb not null, "enabled" boolean not null default true, "start" varchar(40) not null, "rotation_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, "last_used_at" timestamptz null, "last_rotated_at" timestamptz null, "revoked_at" timestamptz null, primary key ("pk"));`);
    this.addSql(`alter table "api_key" add constraint "api_key_workspace_id_id_unique" unique ("workspace_id", "id");`);

    this.addSql(`create table "api_key_secret" ("hash" varchar(64) not null, "api_key_pk" varchar(40) not null, "start" varchar(40) not null, "created_at" timestamptz not null, "expires_at" timestamptz null, "revoked_at" timestamptz null, primary key ("hash"));`);
    this.addSql(`create index "api_key_secret_api_key_pk_index" on "api_key_secret" ("api_key_pk");`);

    this.addSql(`alter table "api_key" add constraint "api_key_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);

    this.addSql(`alter table "api_key_secret" add constraint "api_key_secret_api_key_pk_foreign" foreign key ("api_key_pk") references "api_key" ("pk") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "api_key" drop constraint "api_key_workspace_id_foreign";`);
    this.addSql(`alter table "api_key_secret" drop constraint "api_key_secret_api_key_pk_foreign";`);

    this.addSql(`drop table if exists "workspace" cascade;`);
    this.addSql(`drop table if exists "api_key" cascade;`);
    this.addSql(`drop table if exists "api_key_secret" cascade;`);
  }

}
