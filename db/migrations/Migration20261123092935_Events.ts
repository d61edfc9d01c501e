import { Migration } from '@mikro-orm/migrations';

export class Migration20261123092935_Events extends Migration {

  override name = 'Migration20261123092935_Events';

  override up(): void | Promise<void> {
    this.addSql(`create table "event" ("id" varchar(40) not null, "workspace_id" varchar(64) not null, "type" varchar(120) not null, "payload" jsonb not null, "idempotency_key" varchar(200) null, "source" varchar(16) not null default 'api', "created_at" timestamptz not null, "dispatched_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "event_workspace_id_created_at_index" on "event" ("workspace_id", "created_at");`);
    this.addSql(`alter table "event" add constraint "event_workspace_id_idempotency_key_unique" unique ("workspace_id", "idempotency_key");`);

    this.addSql(`alter table "event" add constraint "event_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "event" cascade;`);
  }

}
