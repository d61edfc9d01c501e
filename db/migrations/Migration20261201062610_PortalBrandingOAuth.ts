import { Migration } from '@mikro-orm/migrations';

export class Migration20261201062610_PortalBrandingOAuth extends Migration {

  override name = 'Migration20261201062610_PortalBrandingOAuth';

  override up(): void | Promise<void> {
    this.addSql(`create table "branding" ("id" smallint not null, "product_name" varchar(80) not null, "key_prefix" varchar(16) null, "accent_color" varchar(7) null, "logo_url" varchar(2048) null, "logo" bytea null, "logo_content_type" varchar(40) null, "support_url" varchar(2048) null, "updated_at" timestamptz not null, "updated_by" varchar(128) not null, primary key ("id"));`);

    this.addSql(`create table "provider_api" ("id" varchar(64) not null, "title" varchar(200) not null, "version" varchar(64) not null, "base_url" varchar(2048) not null, "document" jsonb not null, "source" text not null, "key_header" varchar(100) not null, "key_scheme" varchar(16) not null, "updated_at" timestamptz not null, "updated_by" varchar(128) not null, primary key ("id"));`);

    this.addSql(`create table "signing_key" ("kid" varchar(64) not null, "alg" varchar(8) not null, "public_jwk" jsonb not null, "private_key_sealed" text not null, "state" varchar(12) not null, "created_at" timestamptz not null, "activated_at" timestamptz null, "retired_at" timestamptz null, "revoked_at" timestamptz null, "published_until" timestamptz null, primary key ("kid"));`);
    this.addSql(`create index "signing_key_state_index" on "signing_key" ("state");`);

    this.addSql(`create table "oauth_token_revocation" ("jti" varchar(64) not null, "api_key_pk" varchar(40) not null, "expires_at" timestamptz not null, "revoked_at" timestamptz not null, primary key ("jti"));`);
    this.addSql(`create index "oauth_token_revocation_expires_at_index" on "oauth_token_revocation" ("expires_at");`);

    this.addSql(`alter table "workspace" add "oauth_token_ttl_seconds" int not null default 900, add "oauth_audiences" jsonb not null default '[]';`);

    // Every existing key gets its OAuth client id now, in the format core/keys/client-id.ts makes.
    this.addSql(`alter table "api_key" add "client_id" varchar(40) null;`);
    this.addSql(`update "api_key" set "client_id" = 'ci_' || replace(gen_random_uuid()::text, '-', '');`);
    this.addSql(`alter table "api_key" alter column "client_id" set not null;`);
    this.addSql(`alter table "api_key" add constraint "api_key_client_id_unique" unique ("client_id");`);

    this.addSql(`alter table "oauth_token_revocation" add constraint "oauth_token_revocation_api_key_pk_foreign" foreign key ("api_key_pk") references "api_key" ("pk") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "branding" cascade;`);
    this.addSql(`drop table if exists "provider_api" cascade;`);
    this.addSql(`drop table if exists "signing_key" cascade;`);
    this.addSql(`drop table if exists "oauth_token_revocation" cascade;`);

    this.addSql(`alter table "api_key" drop constraint "api_key_client_id_unique";`);
    this.addSql(`alter table "api_key" drop column "client_id";`);

    this.addSql(`alter table "workspace" drop column "oauth_token_ttl_seconds", drop column "oauth_audiences";`);
  }

}
