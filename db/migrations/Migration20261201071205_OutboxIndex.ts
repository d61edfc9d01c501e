import { Migration } from '@mikro-orm/migrations';

export class Migration20261201071205_OutboxIndex extends Migration {

  override name = 'Migration20261201071205_OutboxIndex';

  override up(): void | Promise<void> {
    this.addSql(`create index "event_undispatched_index" on "event" ("created_at") where "dispatched_at" is null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "event_undispatched_index";`);
  }

}
