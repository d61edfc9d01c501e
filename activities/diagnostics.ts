import type { Orm } from '../db/orm.js';
import { workspaceScope } from '../core/scope.js';

export interface DiagnosticsDeps {
  orm: Orm;
}

export interface KeyCensus {
  workspaceId: string;
  keys: number;
  activeKeys: number;
}

/** Proves the worker reaches PostgreSQL: the self-test workflow's only activity. */
export function createDiagnosticsActivities({ orm }: DiagnosticsDeps) {
  return {
    async countWorkspaceKeys(workspaceId: string): Promise<KeyCensus> {
      const row = await workspaceScope(orm.em.fork(), workspaceId)
        .selectFrom('api_key')
        .select((eb) => [
          eb.fn.countAll<string>().as('keys'),
          eb.fn.countAll<string>().filterWhere((w) => w.and([w('enabled', '=', true), w('revoked_at', 'is', null)])).as('active'),
        ])
        .executeTakeFirst();
      const rows = [row];
      return { workspaceId, keys: Number(rows[0]?.keys ?? 0), activeKeys: Number(rows[0]?.active ?? 0) };
    },
  };
}
