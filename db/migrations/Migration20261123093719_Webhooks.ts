import { Migration } from '@mikro-orm/migrations';

/** Built-in event types of the product contract (SPEC "Event type"); custom ones are added per workspace. */
const BUILT_IN_EVENT_TYPES: [string, string][] = [
  ['product.generated', 'A product was generated'],
  ['ai.generation.completed', 'An AI generation finished'],
  ['content.approved', 'Content was approved'],
  ['content.published', 'Content was published'],
  ['export.completed', 'An export finished'],
  ['credits.low', "A key's credits are running low"],
  ['key.created', 'An API key was created'],
  ['key.rotated', 'An API key was rotated'],
  ['key.revoked', 'An API key was revoked'],
  ['key.expiring', 'An API key expires soon'],
  ['key.rotation_due', "An API key's rotation policy is due"],
  ['usage.rate_limit.approaching', 'A key reached 80 % of a rate limit'],
  ['usage.rate_limit.exceeded', 'A key exceeded a rate limit'],
  ['usage.monthly_report', 'Monthly usage totals'],
  ['webhook.endpoint.disabled', 'A webhook endpoint was disabled'],
];

export class Migration20261123093719_Webhooks extends Migration {

  override name = 'Migration20261123093719_Webhooks';

  override up(): void | Promise<void> {
    this.addSql(`create table "gatehouse_install_key" ("id" int not null, "key" varchar(64) not null, "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "event_type" ("id" varchar(40) not null, "workspace_id" varchar(64) null, "name" varchar(120) not null, "description" varchar(500) not null default '', "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "event_type" add constraint "event_type_workspace_id_name_unique" unique ("workspace_id", "name");`);
    this.addSql(`alter table "event_type" add constraint "event_type_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    for (const [name, description] of BUILT_IN_EVENT_TYPES) {
      this.addSql(`insert into "event_type" ("id", "workspace_id", "name", "description", "created_at") values ('etb_${name}', null, '${name}', '${description.replace(/'/g, "''")}', now());`);
    }

    this.addSql(`create table "webhook_endpoint" ("id" varchar(40) not null, "workspace_id" varchar(64) not null, "url" varchar(2048) not null, "description" varchar(500) not null default '', "event_types" jsonb null, "status" varchar(16) not null default 'active', "https_only" boolean not null default false, "secret_ciphertext" text not null, "previous_secret_ciphertext" text null, "previous_secret_expires_at" timestamptz null, "secret_rotated_at" timestamptz null, "recovery_count" int not null default 0, "disabled_reason" varchar(500) null, "disabled_at" timestamptz null, "first_failure_at" timestamptz null, "last_triggered_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "webhook_endpoint_workspace_id_created_at_index" on "webhook_endpoint" ("workspace_id", "created_at");`);
    this.addSql(`alter table "webhook_endpoint" add constraint "webhook_endpoint_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);

    this.addSql(`create table "webhook_delivery" ("id" varchar(40) not null, "workspace_id" varchar(64) not null, "event_id" varchar(40) not null, "endpoint_id" varchar(40) not null, "status" varchar(16) not null default 'pending', "workflow_id" varchar(200) not null, "attempt_count" int not null default 0, "next_attempt_at" timestamptz null, "last_attempt_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "webhook_delivery_endpoint_id_created_at_index" on "webhook_delivery" ("endpoint_id", "created_at");`);
    this.addSql(`create index "webhook_delivery_workspace_id_created_at_index" on "webhook_delivery" ("workspace_id", "created_at");`);
    this.addSql(`alter table "webhook_delivery" add constraint "webhook_delivery_event_id_endpoint_id_unique" unique ("event_id", "endpoint_id");`);
    this.addSql(`alter table "webhook_delivery" add constraint "webhook_delivery_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "webhook_delivery" add constraint "webhook_delivery_event_id_foreign" foreign key ("event_id") references "event" ("id") on delete cascade;`);
    this.addSql(`alter table "webhook_delivery" add constraint "webhook_delivery_endpoint_id_foreign" foreign key ("endpoint_id") references "webhook_endpoint" ("id") on delete cascade;`);

    this.addSql(`create table "webhook_attempt" ("id" varchar(40) not null, "delivery_id" varchar(40) not null, "attempt_number" int not null, "trigger" varchar(16) not null, "status_code" int not null, "duration_ms" int not null, "response_excerpt" text not null default '', "error" varchar(1000) null, "attempted_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "webhook_attempt_delivery_id_attempted_at_index" on "webhook_attempt" ("delivery_id", "attempted_at");`);
    this.addSql(`alter table "webhook_attempt" add constraint "webhook_attempt_delivery_id_foreign" foreign key ("delivery_id") references "webhook_delivery" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "webhook_attempt" cascade;`);
    this.addSql(`drop table if exists "webhook_delivery" cascade;`);
    this.addSql(`drop table if exists "webhook_endpoint" cascade;`);
    this.addSql(`drop table if exists "event_type" cascade;`);
    this.addSql(`drop table if exists "gatehouse_install_key" cascade;`);
  }

}
