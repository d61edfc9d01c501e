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
 * from the day rollups (which the recorder keeps current, today included). Operators only.
 */
export async function providerUsage(em: EntityManager, input: z.infer<typeof ProviderUsageInput>, now = new Date()): Promise<ProviderUsage> {
  const days = input.days ?? 30;
  const to = new Date(startOfUtcDay(now).getTime() + DAY);
  const from = new Date(to.getTime() - days * DAY);
  const db = typedDb(em);
  const errors = sql<string>`sum(errors_4xx + errors_5xx)`;
  const perDay = await db
    .selectFrom('usage_day')
    .select((eb) => [sql<Date>`date_trunc('day', ${eb.ref('bucket')}, 'UTC')`.as('d'), eb.fn.sum<string>('calls').as('calls'), errors.as('errors')])
    .where('bucket', '>=', from)
    .where('bucket', '<', to)
    .groupBy(sql`1`)
    .execute();
  const byDay = new Map(perDay.map((r) => [new Date(r.d).getTime(), r]));
  const daily: ProviderDay[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += DAY) {
    const r = byDay.get(t);
    daily.push({ date: new Date(t).toISOString().slice(0, 10), calls: Number(r?.calls ?? 0), errors: Number(r?.errors ?? 0) });
  }
  const top = (order: 'calls' | 'errors') =>
    db
      .selectFrom('usage_day as u')
      .innerJoin('workspace as w', 'w.id', 'u.workspace_id')
      .select((eb) => ['u.workspace_id', 'w.name', eb.fn.sum<string>('u.calls').as('calls'), sql<string>`sum(u.errors_4xx + u.errors_5xx)`.as('errors')])
      .where('u.bucket', '>=', from)
      .where('u.bucket', '<', to)
      .groupBy(['u.workspace_id', 'w.name'])
      .$if(order === 'errors', (q) => q.having(sql`sum(u.errors_4xx + u.errors_5xx)`, '>', 0))
      .orderBy(sql`${sql.ref(order)}`, 'desc')
      .orderBy('u.workspace_id')
      .limit(10)
      .execute()
      .then((rows) => rows.map((r) => ({ workspaceId: r.workspace_id, name: r.name, calls: Number(r.calls), errors: Number(r.errors) })));
  const topByCalls = await top('calls');
  const topByErrors = await top('errors');
  return { from: from.toISOString(), to: to.toISOString(), daily, topByCalls, topByErrors };
}
