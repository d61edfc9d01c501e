// Diffs the entities against a scratch database at the latest migration and writes the next migration file.
import { createOrm, migrate } from '../db/orm.js';
import { withScratchDatabase } from './scratch-db.js';

await withScratchDatabase(async (url) => {
  const orm = await createOrm(url);
  await migrate(orm);
  const result = await orm.migrator.create('db/migrations', false, false, process.argv[2]);
  process.stdout.write(result.fileName ? `wrote db/migrations/${result.fileName}: add it to db/migrations/index.ts\n` : 'no changes\n');
  await orm.close();
});
