import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Orm } from '../db/orm.js';
import type { TemporalHandle } from '../temporal/client.js';
import { createDiagnosticsActivities } from './diagnostics.js';
import { createKeyActivities } from './keys.js';
import { createWebhookActivities } from './webhooks.js';
import { createUsageActivities } from './usage.js';
import { createLimitActivities } from './limits.js';
import { createSigningKeyActivities } from './signing-keys.js';

export interface ActivityDeps {
  orm: Orm;
  log: Logger;
  config: Config;
  /** Activities that raise events start their delivery workflows through this client. */
  temporal: TemporalHandle;
}

/** Every activity the worker registers, each group built from the dependencies it needs. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDiagnosticsActivities(deps),
    ...createKeyActivities(deps),
    ...createWebhookActivities(deps),
    ...createUsageActivities(deps),
    ...createLimitActivities(deps),
    ...createSigningKeyActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
