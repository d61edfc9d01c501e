import type { EntityManager } from '@mikro-orm/postgresql';
import type { RateLimit } from '../../db/entities/api-key.js';
import type { PlanRateLimit } from '../../db/entities/plan.js';
import { typedDb } from '../../db/kysely.js';
import { HttpError, badRequest, notFound, truncate } from '../errors.js';
import { GATEHOUSE_RESOURCES, hasScope, namesOperator, PRESETS } from '../permissions.js';
import { workspaceScope } from '../scope.js';
import { exceededCeiling, type EffectiveLimits } from './effective.js';
import { loadEffectiveLimits } from './load.js';

/**
 * A workspace's plan, checked where keys and endpoints are created or edited. The plan is the
 * customer's contract: an operator acting on a workspace is held to it like its own admin
 * (docs/plans.md). Verification's share (shared rate limits, the monthly quota) is core/keys/verify.ts's.
 */

/** Names the contract: the plan, or the workspace's own exceptions when it has no plan. */
const planName = (limits: EffectiveLimits) => (limits.planId === null ? "this workspace's limits" : `plan '${limits.planId}'`);
const per = (l: PlanRateLimit) => `${l.limit} per ${l.windowSeconds} s`;

/** Over a count the plan allows: 403 `plan_limit`, naming the limit and the plan. */
export const planLimit = (field: string, message: string) => new HttpError(403, 'plan_limit', message, field);

/**
 * Locks the workspace row (FOR NO KEY UPDATE: inserts elsewhere in the workspace, whose foreign
 * keys take a key-share lock on it, go on) and loads its limits, so count-then-insert under it
 * cannot be overtaken by a concurrent create in the same workspace. Call inside the transaction.
 */
export async function lockWorkspaceLimits(tx: EntityManager, workspaceId: string): Promise<EffectiveLimits> {
  const ws = await typedDb(tx).selectFrom('workspace').select('id').where('id', '=', workspaceId).forNoKeyUpdate().executeTakeFirst();
  if (!ws) throw notFound('Workspace', workspaceId);
  return loadEffectiveLimits(tx, workspaceId);
}

/** `rateLimits[0]: 5000 per 60 s is above plan 'free''s ceiling of 100 per 60 s` (REST renames the field). */
export function assertRateLimitsWithinPlan(limits: EffectiveLimits, own: readonly RateLimit[], field = 'rateLimits'): void {
  const beyond = exceededCeiling(own, limits.keyRateLimits);
  if (!beyond) return;
  const at = `${field}[${own.indexOf(beyond.limit)}]`;
  throw badRequest(`${at}: ${per(beyond.limit)} is above ${planName(limits)}'s ceiling of ${per(beyond.ceiling)}; ask for a higher plan`, at);
}

export interface CreditsShape {
  remaining: number;
  refill?: { amount: number } | null;
}

/** A key's credits (its balance, or what a refill resets it to) cannot exceed the plan's monthly credit grant. */
export function assertCreditsWithinPlan(limits: EffectiveLimits, credits: CreditsShape | null | undefined): void {
  const grant = limits.monthlyCredits;
  if (grant === null || !credits) return;
  if (credits.remaining > grant) {
    throw badRequest(`credits.remaining: ${credits.remaining} is above ${planName(limits)}'s monthly credit grant of ${grant}`, 'credits.remaining');
  }
  if (credits.refill && credits.refill.amount > grant) {
    throw badRequest(`credits.refill.amount: ${credits.refill.amount} is above ${planName(limits)}'s monthly credit grant of ${grant}`, 'credits.refill.amount');
  }
}

/**
 * Customer scopes only: presets and Gatehouse's own scopes follow the presets, whatever the plan.
 * A wildcard (`products:*`) must itself be listed; `products:*` listed covers `products:read`.
 */
export function assertScopesWithinPlan(limits: EffectiveLimits, permissions: readonly string[]): void {
  const allowed = limits.grantableScopes;
  if (allowed === null) return;
  for (const p of permissions) {
    if (Object.hasOwn(PRESETS, p) || namesOperator(p) || GATEHOUSE_RESOURCES.has(p.split(':')[0]!)) continue;
    const covered = p.endsWith(':*') ? allowed.includes(p) : hasScope(allowed, p);
    if (!covered) {
      throw planLimit(
        'permissions',
        `permissions: '${truncate(p)}' is not a scope ${planName(limits)} lets this workspace grant (${allowed.length ? allowed.join(', ') : 'none'})`,
      );
    }
  }
}

export interface KeyPlanInput {
  rateLimits?: readonly RateLimit[];
  credits?: CreditsShape | null;
  permissions?: readonly string[];
}

function assertKeyFields(limits: EffectiveLimits, key: KeyPlanInput): void {
  if (key.rateLimits !== undefined) assertRateLimitsWithinPlan(limits, key.rateLimits);
  if (key.credits !== undefined) assertCreditsWithinPlan(limits, key.credits);
  if (key.permissions !== undefined) assertScopesWithinPlan(limits, key.permissions);
}

/**
 * Before a key is inserted, inside its transaction: the key's limits, credits and scopes within
 * the plan, and one more key than the workspace has (not revoked) within max keys. The workspace
 * row stays locked until commit, so two creates at max keys − 1 cannot both pass.
 */
export async function assertNewKeyWithinPlan(tx: EntityManager, workspaceId: string, key: KeyPlanInput): Promise<void> {
  const limits = await lockWorkspaceLimits(tx, workspaceId);
  assertKeyFields(limits, key);
  if (limits.maxKeys !== null) {
    const { n } = await workspaceScope(tx, workspaceId)
      .selectFrom('api_key')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(n) >= limits.maxKeys) {
      throw planLimit('max_keys', `max_keys: ${planName(limits)} allows ${limits.maxKeys} API keys that are not revoked; revoke one or ask for a higher plan`);
    }
  }
}

/** A key's edited fields within the plan (only those the edit sets). */
export async function assertKeyChangeWithinPlan(tx: EntityManager, workspaceId: string, key: KeyPlanInput): Promise<void> {
  if (key.rateLimits === undefined && key.credits === undefined && key.permissions === undefined) return;
  assertKeyFields(await loadEffectiveLimits(tx, workspaceId), key);
}

/** Inside the endpoint's create transaction, after the workspace row is locked and its endpoints counted. */
export async function assertEndpointWithinPlan(tx: EntityManager, workspaceId: string, existing: number): Promise<void> {
  const limits = await loadEffectiveLimits(tx, workspaceId);
  if (limits.maxWebhookEndpoints !== null && existing >= limits.maxWebhookEndpoints) {
    throw planLimit(
      'max_webhook_endpoints',
      `max_webhook_endpoints: ${planName(limits)} allows ${limits.maxWebhookEndpoints} webhook endpoints; delete one or ask for a higher plan`,
    );
  }
}
