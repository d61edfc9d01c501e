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
