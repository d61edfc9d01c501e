import { randomBytes } from 'node:crypto';
import { loadConfig } from '../core/config.js';
import { dropDatabase, ensureDatabase, startEmbeddedPostgres, withDatabase } from '../db/postgres.js';

/** Runs `fn` against a throw-away database on DATABASE_URL's server, or on the embedded one. */
export async function withScratchDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const embedded = config.DATABASE_URL ? undefined : await startEmbeddedPostgres(`${config.GATEHOUSE_DATA_DIR}/postgres`, config.GATEHOUSE_POSTGRES_PORT);
  const url = withDatabase(config.DATABASE_URL ?? embedded!.url, `scratch_${randomBytes(4).toString('hex')}`);
  await ensureDatabase(url);
  try {
    await fn(url);
  } finally {
    await dropDatabase(url);
    await embedded?.stop();
  }
}
