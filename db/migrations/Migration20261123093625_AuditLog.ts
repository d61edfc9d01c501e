import { Migration } from '@mikro-orm/migrations';

/** Audit trail of changes to keys and workspaces; the index on api_key serves the newest-first key list. */
export class Migration20261123093625_AuditLog extends Migration {

  override name = 'Migration20261123093625_AuditLog';

  override up(): void | Promise<void> {
    this.addSql(`create table "audit_log" ("id" varchar(40) not null, "workspace_id" varchar(64) not null, "actor_workspace_id" varchar(64) null, "actor_key_id" varchar(128) null, "action" varchar(64) not null, "target_type" varchar(32) not null, "target_id" varchar(128) not null, "ip" varchar(64) not null default '', "changes" jsonb not null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "audit_log_workspace_id_created_at_id_index" on "audit_log" ("workspace_id", "created_at", "id");`);
    this.addSql(`create index "audit_log_workspace_id_target_id_created_at_index" on "audit_log" ("workspace_id", "target_id", "created_at");`);
    this.addSql(`alter table "audit_log" add constraint "audit_log_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);

    this.addSql(`create index "api_key_workspace_id_created_at_pk_index" on "api_key" ("workspace_id", "created_at", "pk");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "api_key_workspace_id_created_at_pk_index";`);
    this.addSql(`drop table if exists "audit_log" cascade;`);
  }

}
