import { Migration } from '@mikro-orm/migrations';

/** Upper bounds of the latency histogram's buckets (core/usage/histogram.ts), as written when this migration was. */
const BOUNDS = [1, 5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 2500, 5000, 10000];
const GRAINS = [
  { table: 'usage_minute', unit: 'minute' },
  { table: 'usage_hour', unit: 'hour' },
  { table: 'usage_day', unit: 'day' },
] as const;

/** `count(*) filter (…)` per histogram bucket, upper bounds inclusive, the last bucket open. */
const histogramOfRecords = `array[${[...BOUNDS, Infinity]
  .map((b, i) => {
    const lower = i === 0 ? '' : `latency_ms > ${BOUNDS[i - 1]}`;
    const upper = Number.isFinite(b) ? `latency_ms <= ${b}` : '';
    return `count(*) filter (where ${[lower, upper].filter(Boolean).join(' and ')})`;
  })
  .join(', ')}]`;

/**
 * Usage means the provider's API traffic (issue #18, item 2). Management calls (source `api`) were
 * counted in every figure; from now on they and the web UI's calls (new source `ui`) are written
 * with `counted = false`, kept for the request log only. This migration:
 *
 * 1. takes the contribution of every counted `api` record out of the minute, hour and day rollups
 *    (calls, 4xx, 5xx, latency sum and histogram subtracted per workspace, bucket, key and route;
 *    rows left with no calls deleted; a row that keeps calls keeps its latency maximum, an upper
 *    bound) and marks those records uncounted;
 * 2. adds `refused` (calls a verification refused) to the rollups and fills it from the counted
 *    records that carry a code other than VALID.
 *
 * What cannot be recomputed: records are kept GATEHOUSE_USAGE_RETENTION_DAYS (90 by default), day
 * rollups for good. Day rows older than the oldest record still hold the management calls of
 * those days and no refusals; usage_month rows of closed months are the monthly rollup's, read from
 * usage_day: run `monthlyRollupWorkflow` with `{ month }` again for the months since the oldest
 * record (docs/usage.md, "Upgrading").
 */
export class Migration20261201031819_UsageSources extends Migration {

  override name = 'Migration20261201031819_UsageSources';

  override up(): void | Promise<void> {
    this.addSql(`alter table "usage_day" add "refused" bigint not null default '0';`);

    this.addSql(`alter table "usage_hour" add "refused" bigint not null default '0';`);

    this.addSql(`alter table "usage_minute" add "refused" int not null default 0;`);

    const subtracted = Array.from({ length: BOUNDS.length + 1 }, (_, i) => `t.hist[${i + 1}] - g.h[${i + 1}]`).join(', ');
    for (const { table, unit } of GRAINS) {
      this.addSql(`update "${table}" as t
         set calls = t.calls - g.calls, errors_4xx = t.errors_4xx - g.e4, errors_5xx = t.errors_5xx - g.e5,
             latency_sum = greatest(0, t.latency_sum - g.s), hist = array[${subtracted}]
        from (select workspace_id, date_trunc('${unit}', created_at, 'UTC') as bucket, coalesce(key_id, '') as key_id, method || ' ' || route as route,
                     count(*) as calls, count(*) filter (where status between 400 and 499) as e4, count(*) filter (where status >= 500) as e5,
                     sum(latency_ms) as s, ${histogramOfRecords} as h
                from usage_record where source = 'api' and counted
               group by 1, 2, 3, 4) as g
       where t.workspace_id = g.workspace_id and t.bucket = g.bucket and t.key_id = g.key_id and t.route = g.route;`);
      this.addSql(`delete from "${table}" where calls <= 0;`);
    }
    this.addSql(`update usage_record set counted = false where source = 'api' and counted;`);

    for (const { table, unit } of GRAINS) {
      this.addSql(`update "${table}" as t set refused = r.n
        from (select workspace_id, date_trunc('${unit}', created_at, 'UTC') as bucket, coalesce(key_id, '') as key_id, method || ' ' || route as route, count(*) as n
                from usage_record where counted and code is not null and code <> 'VALID'
               group by 1, 2, 3, 4) as r
       where t.workspace_id = r.workspace_id and t.bucket = r.bucket and t.key_id = r.key_id and t.route = r.route;`);
    }
  }

  override down(): void | Promise<void> {
    // The management calls taken out of the rollups stay out: they were never the API's usage.
    this.addSql(`alter table "usage_day" drop column "refused";`);

    this.addSql(`alter table "usage_hour" drop column "refused";`);

    this.addSql(`alter table "usage_minute" drop column "refused";`);
  }

}
