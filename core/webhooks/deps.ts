import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { TemporalHandle } from '../../temporal/client.js';

/** What webhook code needs, from a request context or an activity alike. */
export interface WebhookDeps {
  em: EntityManager;
  config: Config;
  temporal: TemporalHandle;
  log: Logger;
}
