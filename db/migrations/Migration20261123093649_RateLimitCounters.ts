import { Migration } from '@mikro-orm/migrations';

/**
 * Rate-limit counters: one row per key, limit and fixed window; the sliding window weighs the
 * previous window's row. UNLOGGED: every verification of a rate-limited key writes here, and
 * skipping the WAL (no fsync per request) is what keeps that write cheap. A crash or failover
 * empties the table, which only forgives the current window: an acceptable loss for counters.
 */
export class Migration20261123093649_RateLimitCounters extends Migration {

  override name = 'Migration20261123093649_RateLimitCounters';

  override up(): void | Promise<void> {
    this.addSql(`create unlogged table "rate_limit_counter" ("key_pk" varchar(40) not null, "name" varchar(64) not null, "window_start" bigint not null, "count" int not null, "granted" int not null, "expires_at" bigint not null, primary key ("key_pk", "name", "window_start"));`);
    this.addSql(`create index "rate_limit_counter_expires_at_index" on "rate_limit_counter" ("expires_at");`);
    this.addSql(`alter table "rate_limit_counter" add constraint "rate_limit_counter_key_pk_foreign" foreign key ("key_pk") references "api_key" ("pk") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "rate_limit_counter" cascade;`);
  }

}
