import { Migration } from '@mikro-orm/migrations';

export class Migration20261201045445_PortalSessions extends Migration {

  override name = 'Migration20261201045445_PortalSessions';

  override up(): void | Promise<void> {
    this.addSql(`create table "portal_link" ("token_hash" varchar(64) not null, "workspace_id" varchar(64) not null, "user_id" varchar(128) not null, "user_email" varchar(320) not null, "user_name" varchar(200) not null, "role" varchar(16) not null, "return_url" varchar(2048) null, "created_by" varchar(128) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, primary key ("token_hash"));`);
    this.addSql(`create index "portal_link_user_id_index" on "portal_link" ("user_id");`);
    this.addSql(`create index "portal_link_expires_at_index" on "portal_link" ("expires_at");`);

    this.addSql(`alter table "audit_log" add "actor_email" varchar(320) null;`);

    this.addSql(`alter table "ui_session" add "portal_link_token_hash" varchar(64) null;`);
    this.addSql(`alter table "ui_session" add constraint "ui_session_portal_link_token_hash_foreign" foreign key ("portal_link_token_hash") references "portal_link" ("token_hash") on delete cascade;`);
    this.addSql(`alter table "ui_session" alter column "api_key_pk" drop not null;`);
    this.addSql(`alter table "ui_session" alter column "secret_hash" drop not null;`);
    this.addSql(`create index "ui_session_portal_link_token_hash_index" on "ui_session" ("portal_link_token_hash");`);

    this.addSql(`alter table "portal_link" add constraint "portal_link_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ui_session" drop constraint "ui_session_portal_link_token_hash_foreign";`);

    this.addSql(`drop table if exists "portal_link" cascade;`);

    this.addSql(`alter table "audit_log" drop column "actor_email";`);

    this.addSql(`drop index "ui_session_portal_link_token_hash_index";`);
    this.addSql(`alter table "ui_session" drop column "portal_link_token_hash";`);
    this.addSql(`alter table "ui_session" alter column "api_key_pk" set not null;`);
    this.addSql(`alter table "ui_session" alter column "secret_hash" set not null;`);
  }

}
