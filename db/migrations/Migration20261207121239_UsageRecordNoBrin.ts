import { Migration } from '@mikro-orm/migrations';

/**
 * usage_record loses its BRIN on created_at: every read names a workspace and goes by one of the two
 * btrees, and a time range prunes to day partitions, so the BRIN served no query while every
 * verification's row paid for its upkeep (BENCHMARKS.md, "usage_record without its BRIN"). Dropping
 * it on the partitioned table drops it on every day partition, without rewriting a row.
 */
export class Migration20261207121239_UsageRecordNoBrin extends Migration {

  override name = 'Migration20261207121239_UsageRecordNoBrin';

  override up(): void | Promise<void> {
    this.addSql(`drop index "usage_record_created_brin";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "usage_record_created_brin" on "usage_record" using brin ("created_at");`);
  }

}
