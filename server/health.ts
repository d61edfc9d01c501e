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
    withTimeout(deps.orm.em.execute('select 1'), 2_000),
    withTimeout(deps.temporal.connection.workflowService.getSystemInfo({}), 2_000),
  ]);
  const postgres = pg.status === 'fulfilled' ? 'ok' : `error: ${message(pg.reason)}`;
  const temporal = tmp.status === 'fulfilled' ? 'ok' : `error: ${message(tmp.reason)}`;
  return { status: postgres === 'ok' && temporal === 'ok' ? 'ok' : 'degraded', postgres, temporal };
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
