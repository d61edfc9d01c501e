// `npm run migrate`: applies pending migrations to DATABASE_URL (production deploys run this before the API).
import { loadConfig } from '../core/config.js';
import { createOrm, migrate } from '../db/orm.js';
import { fail } from './fail.js';

const config = loadConfig();
if (!config.DATABASE_URL) fail('DATABASE_URL is not set: `npm run migrate` needs the database to migrate (`npm start` migrates its own)');
const orm = await createOrm(config.DATABASE_URL);
const applied = await migrate(orm);
process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
await orm.close();
