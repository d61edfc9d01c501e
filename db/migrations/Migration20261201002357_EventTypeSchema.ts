import { Migration } from '@mikro-orm/migrations';

/**
 * A payload JSON Schema per event type: built-in types get theirs from the catalog in code at
 * start-up (which also keeps their descriptions current), custom types may be given one.
 */
export class Migration20261201002357_EventTypeSchema extends Migration {

  override name = 'Migration20261201002357_EventTypeSchema';

  override up(): void | Promise<void> {
    this.addSql(`alter table "event_type" add "schema" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "event_type" drop column "schema";`);
  }

}
