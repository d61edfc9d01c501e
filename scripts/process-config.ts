import { ConfigError, loadConfig, type Config } from '../core/config.js';
import { fail } from './fail.js';

/**
 * The configuration of a long-running process (`npm run api`, `npm run worker`): both need
 * PostgreSQL and Temporal; a bad or missing value stops it with one line naming the variable.
 */
export function loadProcessConfig(who: string): Config & { DATABASE_URL: string; TEMPORAL_ADDRESS: string } {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err));
  }
  if (!config.DATABASE_URL) fail(`DATABASE_URL is not set: ${who} needs PostgreSQL (\`npm start\` starts one for you)`);
  if (!config.TEMPORAL_ADDRESS) fail(`TEMPORAL_ADDRESS is not set: ${who} needs Temporal (\`npm start\` starts one for you)`);
  return { ...config, DATABASE_URL: config.DATABASE_URL, TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS };
}
