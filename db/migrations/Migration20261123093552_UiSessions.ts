import { Migration } from '@mikro-orm/migrations';

/** Admin UI sessions: only a hash of the cookie's token is stored, tied to the key and secret that signed in. */
export class Migration20261123093552_UiSessions extends Migration {

  override name = 'Migration20261123093552_UiSessions';

  override up(): void | Promise<void> {
    this.addSql(`create table "ui_session" ("token_hash" varchar(64) not null, "api_key_pk" varchar(40) not null, "secret_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("token_hash"));`);
    this.addSql(`create index "ui_session_api_key_pk_index" on "ui_session" ("api_key_pk");`);

    this.addSql(`alter table "ui_session" add constraint "ui_session_api_key_pk_foreign" foreign key ("api_key_pk") references "api_key" ("pk") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ui_session" cascade;`);
  }

}
