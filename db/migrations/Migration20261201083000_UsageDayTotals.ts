import { Migration } from '@mikro-orm/migrations';

/**
 * The provider's charts read a range of days across every workspace. From usage_day that is every
 * key's and route's row (310,000 for 1,000 workspaces × 10 keys in a month) and, the table being
 * kept for good, a scan of all of it: `usage_day_total` holds one row per workspace and day, filled
 * here from usage_day and written by the batch writer from now on; `usage_day_bucket_index` serves
 * the monthly close's read of one month of every workspace.
 */
export class Migration20261201083000_UsageDayTotals extends Migration {

  override name = 'Migration20261201083000_UsageDayTotals';

  override up(): void | Promise<void> {
    this.addSql(`create index "usage_day_bucket_index" on "usage_day" ("bucket");`);
    this.addSql(`create table "usage_day_total" ("bucket" timestamptz not null, "workspace_id" varchar(64) not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, primary key ("bucket", "workspace_id"));`);
    this.addSql(`insert into "usage_day_total" (bucket, workspace_id, calls, errors_4xx, errors_5xx) select bucket, workspace_id, sum(calls), sum(errors_4xx), sum(errors_5xx) from "usage_day" group by bucket, workspace_id;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "usage_day_total";`);
    this.addSql(`drop index "usage_day_bucket_index";`);
  }

}
