import type { Orm } from '../db/orm.js';

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
      const em = orm.em.fork();
      const rows = await em.execute<{ keys: string; active: string }[]>(
        `select count(*) as keys, count(*) filter (where enabled and revoked_at is null) as active
           from api_key where workspace_id = ?`,
        [workspaceId],
      );
      return { workspaceId, keys: Number(rows[0]?.keys ?? 0), activeKeys: Number(rows[0]?.active ?? 0) };
    },
  };
}
