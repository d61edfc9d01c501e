// `npm run migration:check`: builds a scratch database with the real migrations and fails when the
// entities describe anything else. Entities are the schema: a difference means a migration is
// missing (run `npm run migration:create -- Name`) or an entity no longer says what installs have.
import { createOrm, migrate } from '../db/orm.js';
import { schemaDrift } from '../db/schema-drift.js';
import { withScratchDatabase } from './scratch-db.js';

await withScratchDatabase(async (url) => {
  const orm = await createOrm(url);
  try {
    await migrate(orm);
    const drift = await schemaDrift(orm);
    if (drift) {
      process.stderr.write(`migration:check: the entities differ from the schema the migrations build; this SQL would reconcile them:\n\n${drift}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write('migration:check: the entities match the schema the migrations build\n');
    }
  } finally {
    await orm.close();
  }
});
