import { Migration } from '@mikro-orm/migrations';

/**
 * Hourly usage rollups, kept by the batch writer beside the minute and day ones: a range with
 * ragged ends (the last 24 hours, 12:00 to 12:00) and hourly charts read hour rows instead of
 * 60 minute rows each. Filled from the minute rollups that already exist.
 */
export class Migration20261123140000_UsageHour extends Migration {

  override name = 'Migration20261123140000_UsageHour';

  override up(): void | Promise<void> {
    this.addSql(`create table "usage_hour" ("workspace_id" varchar(64) not null, "bucket" timestamptz not null, "key_id" varchar(128) not null, "route" varchar(220) not null, "calls" bigint not null, "errors_4xx" bigint not null, "errors_5xx" bigint not null, "latency_sum" double precision not null, "latency_max" real not null, "hist" bigint[] not null, primary key ("workspace_id", "bucket", "key_id", "route"));`);
    // Histograms summed element by element; 15 buckets, as the minute rows were written with.
    const hist = Array.from({ length: 15 }, (_, i) => `coalesce(sum(hist[${i + 1}]), 0)`).join(', ');
    this.addSql(`insert into "usage_hour" (workspace_id, bucket, key_id, route, calls, errors_4xx, errors_5xx, latency_sum, latency_max, hist)
      select workspace_id, date_trunc('hour', bucket, 'UTC'), key_id, route, sum(calls), sum(errors_4xx), sum(errors_5xx), sum(latency_sum), max(latency_max),
             array[${hist}]::bigint[]
        from usage_minute
       group by 1, 2, 3, 4;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "usage_hour" cascade;`);
  }

}
