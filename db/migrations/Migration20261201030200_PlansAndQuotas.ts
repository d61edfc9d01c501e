import { Migration } from '@mikro-orm/migrations';

/**
 * Plans, the workspace-wide counters, limit requests of three kinds decided by the provider,
 * operator-wide endpoints and provider-wide monthly totals. Existing workspaces get no plan
 * (nothing changes for them until an operator assigns one).
 *
 * `limits:approve` becomes an operator scope: a workspace may no longer approve its own increases.
 * Keys that held it (by name, or through the admin preset, which now has `limits:write` in its
 * place) lose it, except an operator's; one held by name is replaced by `limits:write`, so an
 * administrator stays one. Each such key gets an audit entry saying so.
 */
export class Migration20261201030200_PlansAndQuotas extends Migration {

  override name = 'Migration20261201030200_PlansAndQuotas';

  override up(): void | Promise<void> {
    this.addSql(`create table "plan" ("id" varchar(64) not null, "name" varchar(200) not null, "key_rate_limits" jsonb not null, "workspace_rate_limits" jsonb not null, "monthly_calls" bigint null, "monthly_credits" bigint null, "max_keys" int null, "max_webhook_endpoints" int null, "grantable_scopes" jsonb null, "log_retention_days" int null, "is_default" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "usage_month_plan" ("month" date not null, "plan_id" varchar(64) not null, "workspaces" int not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, "updated_at" timestamptz not null, primary key ("month", "plan_id"));`);

    this.addSql(`create table "workspace_quota" ("workspace_id" varchar(64) not null, "month" date not null, "calls" bigint not null default '0', "credits" bigint not null default '0', "approaching_at" timestamptz null, "exceeded_at" timestamptz null, "updated_at" timestamptz not null, primary key ("workspace_id", "month"));`);

    this.addSql(`create table "workspace_rate_counter" ("workspace_id" varchar(64) not null, "name" varchar(64) not null, "window_start" bigint not null, "count" int not null, "granted" int not null, "expires_at" bigint not null, primary key ("workspace_id", "name", "window_start"));`);
    this.addSql(`create index "workspace_rate_counter_expires_at_index" on "workspace_rate_counter" ("expires_at");`);

    this.addSql(`alter table "workspace" add "plan_id" varchar(64) null, add "overrides" jsonb not null default '{}';`);
    this.addSql(`alter table "workspace" add constraint "workspace_plan_id_foreign" foreign key ("plan_id") references "plan" ("id") on delete restrict;`);

    this.addSql(`alter table "webhook_endpoint" add "all_workspaces" boolean not null default false;`);

    this.addSql(`alter table "limit_request" add "kind" varchar(16) not null default 'key_limit', add "requested_plan" varchar(64) null, add "approved_limit" bigint null, add "approved_plan" varchar(64) null, add "expires_at" timestamptz null;`);
    this.addSql(`alter table "limit_request" alter column "api_key_pk" drop not null;`);
    this.addSql(`alter table "limit_request" alter column "key_id" drop not null;`);
    this.addSql(`alter table "limit_request" alter column "limit_name" drop not null;`);
    this.addSql(`alter table "limit_request" alter column "current_limit" type bigint using ("current_limit"::bigint);`);
    this.addSql(`alter table "limit_request" alter column "requested_limit" type bigint using ("requested_limit"::bigint);`);
    this.addSql(`alter table "limit_request" alter column "requested_limit" drop not null;`);
    this.addSql(`alter table "limit_request" alter column "window_seconds" drop not null;`);
    this.addSql(`create index "limit_request_status_created_at_index" on "limit_request" ("status", "created_at");`);

    this.addSql(`alter table "workspace_quota" add constraint "workspace_quota_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);

    this.addSql(`alter table "workspace_rate_counter" add constraint "workspace_rate_counter_workspace_id_foreign" foreign key ("workspace_id") references "workspace" ("id") on delete cascade;`);
    this.addSql(`alter table "workspace_rate_counter" set unlogged;`);

    this.addSql(`insert into "audit_log" ("id", "workspace_id", "actor_workspace_id", "actor_key_id", "action", "target_type", "target_id", "ip", "changes", "created_at")
      select 'aud_' || substr(md5(k.pk || ':limits-approve'), 1, 24), k.workspace_id, null, null, 'key.permissions_migrated', 'api_key', k.id, '',
             jsonb_build_object('removed', jsonb_build_array('limits:approve'),
                                'reason', 'limits:approve became an operator scope: the provider decides limit requests',
                                'permissions', jsonb_build_object('from', k.permissions, 'to', case when k.permissions @> '["limits:approve"]'::jsonb then (k.permissions - 'limits:approve' - 'limits:write') || '["limits:write"]'::jsonb else k.permissions end)),
             clock_timestamp()
        from "api_key" k
       where k.revoked_at is null and not (k.permissions @> '["operator"]'::jsonb) and (k.permissions @> '["limits:approve"]'::jsonb or k.permissions @> '["admin"]'::jsonb);`);
    this.addSql(`update "api_key" set "permissions" = ("permissions" - 'limits:approve' - 'limits:write') || '["limits:write"]'::jsonb, "updated_at" = now() where not ("permissions" @> '["operator"]'::jsonb) and "permissions" @> '["limits:approve"]'::jsonb;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "workspace" drop constraint "workspace_plan_id_foreign";`);

    this.addSql(`drop table if exists "plan" cascade;`);
    this.addSql(`drop table if exists "usage_month_plan" cascade;`);
    this.addSql(`drop table if exists "workspace_quota" cascade;`);
    this.addSql(`drop table if exists "workspace_rate_counter" cascade;`);

    this.addSql(`drop index "limit_request_status_created_at_index";`);
    this.addSql(`alter table "limit_request" drop column "kind", drop column "requested_plan", drop column "approved_limit", drop column "approved_plan", drop column "expires_at";`);
    this.addSql(`alter table "limit_request" alter column "api_key_pk" set not null;`);
    this.addSql(`alter table "limit_request" alter column "key_id" set not null;`);
    this.addSql(`alter table "limit_request" alter column "limit_name" set not null;`);
    this.addSql(`alter table "limit_request" alter column "current_limit" type int4 using ("current_limit"::int4);`);
    this.addSql(`alter table "limit_request" alter column "requested_limit" type int4 using ("requested_limit"::int4);`);
    this.addSql(`alter table "limit_request" alter column "requested_limit" set not null;`);
    this.addSql(`alter table "limit_request" alter column "window_seconds" set not null;`);

    this.addSql(`alter table "webhook_endpoint" drop column "all_workspaces";`);

    this.addSql(`alter table "workspace" drop column "plan_id", drop column "overrides";`);
  }

}
