import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { typedDb } from '../../db/kysely.js';
import { startOfUtcDay } from './queries.js';

const DAY = 86_400_000;

export const ProviderUsageInput = z.strictObject({
  /** The last `days` UTC days, today included (default 30, at most 366). */
  days: z.coerce.number().int().min(1).max(366).optional(),
});

export interface ProviderDay {
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  calls: number;
  errors: number;
}

export interface ProviderTopRow {
  workspaceId: string;
  name: string;
  calls: number;
  errors: number;
}

export interface ProviderUsage {
  from: string;
  to: string;
  /** One point per UTC day, gaps filled with zeros. */
  daily: ProviderDay[];
  /** Ten workspaces with the most calls over the range, most first. */
  topByCalls: ProviderTopRow[];
  /** Ten workspaces with the most errors (4xx and 5xx), most first. */
  topByErrors: ProviderTopRow[];
}

/**
 * The provider's charts: calls and errors per day across every workspace and the top ten customers,
 * from the workspace day totals (usage_day_total, which the recorder keeps current beside the day
 * rollups, today included). Operators only.
 *
 * One pass over the range's rows (one per workspace and day), grouped two ways at once (grouping
 * sets): per UTC day, and per workspace; the top tens are picked from the per-workspace sums here and
 * named in one look-up. Summing every key's and route's day rollup three times over instead took
 * seconds for a month of 1,000 workspaces × 10 keys (bench/usage.ts, provider_summary_ms).
 */
export async function providerUsage(em: EntityManager, input: z.infer<typeof ProviderUsageInput>, now = new Date()): Promise<ProviderUsage> {
  const days = input.days ?? 30;
  const to = new Date(startOfUtcDay(now).getTime() + DAY);
  const from = new Date(to.getTime() - days * DAY);
  const db = typedDb(em);
  const rows = await db
    .selectFrom('usage_day_total')
    .select((eb) => [
      sql<Date | null>`date_trunc('day', ${eb.ref('bucket')}, 'UTC')`.as('d'),
      'workspace_id',
      eb.fn.sum<string>('calls').as('calls'),
      sql<string>`sum(errors_4xx + errors_5xx)`.as('errors'),
      // 0 on the per-day rows, 1 on the per-workspace ones.
      sql<number>`grouping(date_trunc('day', ${eb.ref('bucket')}, 'UTC'))`.as('per_workspace'),
    ])
    .where('bucket', '>=', from)
    .where('bucket', '<', to)
    .groupBy(sql`grouping sets ((date_trunc('day', bucket, 'UTC')), (workspace_id))`)
    .execute();
  const byDay = new Map<number, { calls: string; errors: string }>();
  const perWorkspace: { workspaceId: string; calls: number; errors: number }[] = [];
  for (const r of rows) {
    if (Number(r.per_workspace) === 0) byDay.set(new Date(r.d!).getTime(), r);
    else perWorkspace.push({ workspaceId: r.workspace_id, calls: Number(r.calls), errors: Number(r.errors) });
  }
  const daily: ProviderDay[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += DAY) {
    const r = byDay.get(t);
    daily.push({ date: new Date(t).toISOString().slice(0, 10), calls: Number(r?.calls ?? 0), errors: Number(r?.errors ?? 0) });
  }
  const ranked = (key: 'calls' | 'errors') =>
    perWorkspace
      .filter((w) => key === 'calls' || w.errors > 0)
      .sort((a, b) => b[key] - a[key] || (a.workspaceId < b.workspaceId ? -1 : a.workspaceId > b.workspaceId ? 1 : 0))
      .slice(0, 10);
  const byCalls = ranked('calls');
  const byErrors = ranked('errors');
  const ids = [...new Set([...byCalls, ...byErrors].map((w) => w.workspaceId))];
  const names = new Map(
    ids.length === 0 ? [] : (await db.selectFrom('workspace').select(['id', 'name']).where('id', 'in', ids).execute()).map((w) => [w.id, w.name]),
  );
  const named = (list: typeof byCalls): ProviderTopRow[] =>
    list.flatMap((w) => {
      const name = names.get(w.workspaceId);
      return name === undefined ? [] : [{ ...w, name }];
    });
  return { from: from.toISOString(), to: to.toISOString(), daily, topByCalls: named(byCalls), topByErrors: named(byErrors) };
}
