import { Migration } from '@mikro-orm/migrations';

/**
 * Each secret remembers the rotation that issued it (0 = issued at creation), so a rotation's
 * workflow touches exactly the secret it retired, never one a later rotation issued.
 */
export class Migration20261123093630_KeySecretRotation extends Migration {

  override name = 'Migration20261123093630_KeySecretRotation';

  override up(): void | Promise<void> {
    this.addSql(`alter table "api_key_secret" add column "rotation" int not null default 0;`);
    // The sweeper looks for retired secrets past their grace that nobody revoked yet.
    this.addSql(`create index "api_key_secret_pending_expiry_index" on "api_key_secret" ("expires_at") where "revoked_at" is null and "expires_at" is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "api_key_secret_pending_expiry_index";`);
    this.addSql(`alter table "api_key_secret" drop column "rotation";`);
  }

}
