import type { EntityManager } from '@mikro-orm/postgresql';
import { sendKeyChange } from '../keys/notify.js';

/**
 * Payloads on the key-change channel that name a workspace's limits rather than a key: every API
 * process drops what it cached of them. A key pk never contains ':', so the prefixes cannot collide.
 */
export const WORKSPACE_LIMITS_PREFIX = 'workspace:';
export const PLAN_LIMITS_PREFIX = 'plan:';

/**
 * Call inside the transaction that changes a workspace's plan or overrides (delivered on commit):
 * verification picks up the new limits at once in every process.
 */
export async function notifyWorkspaceLimitsChanged(em: EntityManager, workspaceId: string): Promise<void> {
  await sendKeyChange(em, `${WORKSPACE_LIMITS_PREFIX}${workspaceId}`);
}

/** Call inside the transaction that edits a plan: every workspace on it has new limits. */
export async function notifyPlanChanged(em: EntityManager, planId: string): Promise<void> {
  await sendKeyChange(em, `${PLAN_LIMITS_PREFIX}${planId}`);
}
