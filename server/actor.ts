import type { KeyActor, KeyServiceDeps } from '../core/keys/service.js';
import type { Context } from './context.js';

type AuthedContext = Context & { principal: NonNullable<Context['principal']> };

/** The core services' view of a request: who acts, from where, and what they may use. */
export function actorOf(ctx: AuthedContext): KeyActor {
  return { ...ctx.principal, ip: ctx.ip };
}

export function keyDeps(ctx: Context): KeyServiceDeps {
  return { em: ctx.em, temporal: ctx.temporal, pepper: ctx.config.GATEHOUSE_KEY_PEPPER };
}
