import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb } from '../db/kysely.js';
import type { ServerDeps } from './context.js';

export interface Health {
  status: 'ok' | 'degraded';
  postgres: string;
  temporal: string;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);
}

/** Each dependency is probed on its own, so the answer names the one that failed. */
export async function checkHealth(deps: ServerDeps): Promise<Health> {
  const [pg, tmp] = await Promise.allSettled([
    withTimeout(pingPostgres(deps.orm.em.fork() as EntityManager), 2_000),
    withTimeout(deps.temporal.connection.workflowService.getSystemInfo({}), 2_000),
  ]);
  const postgres = pg.status === 'fulfilled' ? 'ok' : `error: ${message(pg.reason)}`;
  const temporal = tmp.status === 'fulfilled' ? 'ok' : `error: ${message(tmp.reason)}`;
  return { status: postgres === 'ok' && temporal === 'ok' ? 'ok' : 'degraded', postgres, temporal };
}

/** `select 1`: a round trip that reads no table. */
async function pingPostgres(em: EntityManager): Promise<void> {
  await typedDb(em).selectNoFrom((eb) => eb.lit(1).as('ok')).execute();
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}

/**
 * `/readyz`: whether this process should be sent traffic. Unlike `/healthz` (liveness: the process
 * answers and names its dependencies), it also waits for the key cache's change listener, without
 * which every verification would go to PostgreSQL, and it turns 503 the moment shutdown begins,
 * before the server stops accepting connections, so a load balancer stops routing here first.
 */
export interface Readiness {
  status: 'ready' | 'not_ready';
  postgres: string;
  temporal: string;
  /** `ok` once the verifier's LISTEN connection is up and the cache may be used. */
  key_cache: string;
  draining: boolean;
}

const drainingApps = new WeakSet<object>();

/** Marks `app` as shutting down: its `/readyz` answers 503 from now on. */
export function startDraining(app: object): void {
  drainingApps.add(app);
}

export async function checkReadiness(deps: ServerDeps, app: object): Promise<Readiness> {
  const draining = drainingApps.has(app);
  const keyCache = deps.verifier.cache.enabled ? 'ok' : 'not ready: the key-change listener is not connected';
  if (draining) return { status: 'not_ready', postgres: 'not checked', temporal: 'not checked', key_cache: keyCache, draining };
  const health = await checkHealth(deps);
  const ready = health.status === 'ok' && keyCache === 'ok';
  return { status: ready ? 'ready' : 'not_ready', postgres: health.postgres, temporal: health.temporal, key_cache: keyCache, draining };
}
