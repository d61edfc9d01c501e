import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Response } from 'express';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Orm } from '../db/orm.js';
import type { TemporalHandle } from '../temporal/client.js';
import type { Usage } from '../core/usage/index.js';
import type { KeyVerifier } from '../core/keys/verifier.js';
import type { DispatchMarks } from '../core/webhooks/dispatch-marks.js';
import type { Principal } from './auth/principal.js';
import type { HttpError } from '../core/errors.js';

/** What a running API process holds once, from start-up: passed down, never imported. */
export interface ServerDeps {
  config: Config;
  orm: Orm;
  temporal: TemporalHandle;
  log: Logger;
  /** Per-process usage buffer (records every call, watches limits), flushed in batches. */
  usage: Usage;
  /** Key cache + change listener + rate limiter: the verification hot path (core/keys/verifier.ts). */
  verifier: KeyVerifier;
  /** Events whose delivery workflows started, marked dispatched in batches (core/webhooks/dispatch-marks.ts). */
  dispatched: DispatchMarks;
}

export interface Context extends ServerDeps {
  em: EntityManager;
  principal?: Principal;
  /**
   * Why a key that did authenticate may not act (its IP allowlist): authed procedures answer with
   * it, public ones (session.signIn, signOut, me) run as if no one were signed in.
   */
  refusal?: HttpError;
  ip: string;
  /** The HTTP exchange, when there is one (not under `createCaller`): the session router sets cookies. */
  http?: { req: Request; res: Response };
}

/** Independent of Express, so tests call procedures through `createCaller`. */
export function createContextInner(deps: ServerDeps, principal?: Principal, ip = '127.0.0.1', http?: Context['http']): Context {
  return { ...deps, em: deps.orm.em.fork() as EntityManager, principal, ip, http };
}

/**
 * REST's context: the same fields, but the EntityManager is forked on first use. The verification
 * hot path never touches it, and a fork per request was a measurable share of its CPU and garbage
 * (bench/verify.ts). A prototype getter, because an own accessor makes every context a slow
 * dictionary object; the price is that spreading this object drops `em`, so tRPC (whose
 * middlewares spread their context) keeps createContextInner.
 */
class RestContext {
  #em: EntityManager | undefined;
  readonly #orm: Orm;
  constructor(deps: ServerDeps, readonly principal: Principal | undefined, readonly ip: string) {
    Object.assign(this, deps);
    this.#orm = deps.orm;
  }
  get em(): EntityManager {
    return (this.#em ??= this.#orm.em.fork() as EntityManager);
  }
}

export function createRestContext(deps: ServerDeps, principal: Principal | undefined, ip: string): Context {
  return new RestContext(deps, principal, ip) as unknown as Context;
}
