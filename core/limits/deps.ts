import type { Config } from '../config.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { TemporalHandle } from '../../temporal/client.js';
import type { Logger } from '../log.js';
import type { LimitActor, LimitDeps } from './requests.js';

/** A request's context as the limit-request services take it (tRPC and REST alike). */
export interface LimitContext {
  em: EntityManager;
  temporal: TemporalHandle;
  config: Pick<Config, 'GATEHOUSE_LIMIT_REQUEST_TTL_DAYS'>;
  log?: Logger;
  principal: Omit<LimitActor, 'ip'>;
  ip: string;
}

export const limitDeps = (ctx: LimitContext): LimitDeps => ({ em: ctx.em, temporal: ctx.temporal, ttlDays: ctx.config.GATEHOUSE_LIMIT_REQUEST_TTL_DAYS, log: ctx.log });

export const limitActor = (ctx: Pick<LimitContext, 'principal' | 'ip'>): LimitActor => ({
  workspaceId: ctx.principal.workspaceId,
  keyPk: ctx.principal.keyPk,
  keyId: ctx.principal.keyId,
  scopes: ctx.principal.scopes,
  ip: ctx.ip,
  person: ctx.principal.person,
});
