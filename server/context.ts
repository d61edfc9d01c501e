import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Response } from 'express';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Orm } from '../db/orm.js';
import type { TemporalHandle } from '../temporal/client.js';
import type { Usage } from '../core/usage/index.js';
import type { KeyVerifier } from '../core/keys/verifier.js';
import type { Principal } from './auth/principal.js';

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
}

export interface Context extends ServerDeps {
  em: EntityManager;
  principal?: Principal;
  ip: string;
  /** The HTTP exchange, when there is one (not under `createCaller`): the session router sets cookies. */
  http?: { req: Request; res: Response };
}

/**
 * Independent of Express, so tests call procedures through `createCaller`. The EntityManager is
 * forked on first use: the verification hot path never touches it, and a fork per request was a
 * measurable share of its CPU and garbage (bench/verify.ts).
 */
export function createContextInner(deps: ServerDeps, principal?: Principal, ip = '127.0.0.1', http?: Context['http']): Context {
  let em: EntityManager | undefined;
  const ctx = { ...deps, principal, ip, http } as Context;
  Object.defineProperty(ctx, 'em', { enumerable: true, configurable: true, get: () => (em ??= deps.orm.em.fork() as EntityManager) });
  return ctx;
}
