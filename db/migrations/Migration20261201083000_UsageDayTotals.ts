import { Migration } from '@mikro-orm/migrations';

/**
 * A workspace's month summary and the provider's charts read whole days. From usage_day that is
 * every key's and route's row (31,000 for 50 keys × 20 routes in a month; 310,000 for 1,000
 * workspaces × 10 keys) and, for the provider, the table being kept for good, a scan of all of it:
 * `usage_day_total` holds one row per workspace and day (calls, errors, latency sum and maximum,
 * histogram), filled here from usage_day and written by the batch writer from now on;
 * `usage_day_bucket_index` serves the monthly close's read of one month of every workspace.
 */
export class Migration20261201083000_UsageDayTotals extends Migration {

  override name = 'Migration20261201083000_UsageDayTotals';

  override up(): void | Promise<void> {
    this.addSql(`create index "usage_day_bucket_index" on "usage_day" ("bucket");`);
    this.addSql(`create table "usage_day_total" ("bucket" timestamptz not null, "workspace_id" varchar(64) not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, "latency_sum" double precision not null, "latency_max" real not null, "hist" bigint[] not null, primary key ("bucket", "workspace_id"));`);
    // Histograms added bucket by bucket (15 buckets, core/usage/histogram.ts).
    this.addSql(`insert into "usage_day_total" (bucket, workspace_id, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
      select bucket, workspace_id, sum(calls), sum(errors_4xx), sum(errors_5xx), sum(latency_sum), max(latency_max),
             array[${Array.from({ length: 15 }, (_, i) => `coalesce(sum(hist[${i + 1}]), 0)`).join(', ')}]::bigint[]
        from "usage_day" group by bucket, workspace_id;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "usage_day_total";`);
    this.addSql(`drop index "usage_day_bucket_index";`);
  }

}
