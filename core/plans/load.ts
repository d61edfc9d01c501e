import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb, type Row } from '../../db/kysely.js';
import { notFound } from '../errors.js';
import { effectiveLimits, type EffectiveLimits } from './effective.js';

/** The plan columns the limits are read from; bigint counts may arrive as strings from a plain pg pool. */
export type PlanLimitColumns = Pick<
  Row<'plan'>,
  'id' | 'name' | 'key_rate_limits' | 'workspace_rate_limits' | 'max_keys' | 'max_webhook_endpoints' | 'grantable_scopes' | 'log_retention_days'
> & { monthly_calls: string | number | null; monthly_credits: string | number | null };

/** A plan row as the limit fields' camelCase view: the one mapping, for the service, the loaders and the verifier's cache. */
export function planLimitsOf(row: PlanLimitColumns) {
  return {
    id: row.id,
    name: row.name,
    keyRateLimits: row.key_rate_limits ?? [],
    workspaceRateLimits: row.workspace_rate_limits ?? [],
    monthlyCalls: row.monthly_calls === null ? null : Number(row.monthly_calls),
    monthlyCredits: row.monthly_credits === null ? null : Number(row.monthly_credits),
    maxKeys: row.max_keys,
    maxWebhookEndpoints: row.max_webhook_endpoints,
    grantableScopes: row.grantable_scopes,
    logRetentionDays: row.log_retention_days,
  };
}

/**
 * The limits that apply to a workspace now: its plan's, with its overrides. The workspace table is
 * the tenants themselves and plans are the provider's, so no workspace scope applies here.
 */
export async function loadEffectiveLimits(em: EntityManager, workspaceId: string): Promise<EffectiveLimits> {
  const ws = await typedDb(em).selectFrom('workspace').select(['plan_id', 'overrides']).where('id', '=', workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace', workspaceId);
  const plan = ws.plan_id ? await typedDb(em).selectFrom('plan').selectAll().where('id', '=', ws.plan_id).executeTakeFirst() : undefined;
  return effectiveLimits(plan ? planLimitsOf(plan) : null, ws.overrides ?? {});
}
