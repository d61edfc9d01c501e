import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { typedDb } from '../../db/kysely.js';
import { closedObject, listLimitSchema } from '../keys/schema.js';
import { rollupSums } from '../usage/histogram.js';
import { summarise } from '../usage/queries.js';
import { effectiveLimits, monthBounds } from './effective.js';
import { planLimitsOf } from './load.js';

export const OVERVIEW_SORTS = ['name', 'created', 'calls', 'errorRate', 'lastActivity', 'keys'] as const;

export const overviewInput = closedObject({
  search: z.string().trim().max(200, 'at most 200 characters').optional(),
  sort: z.enum(OVERVIEW_SORTS).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: listLimitSchema.optional(),
  offset: z.number().int('expected an integer').min(0, 'at least 0').max(1_000_000, 'at most 1000000').optional(),
});
export type OverviewInput = z.output<typeof overviewInput>;

/** One customer in the operator console's table. */
export interface OverviewRow {
  id: string;
  name: string;
  planId: string | null;
  planName: string | null;
  /** This UTC month, from the usage rollups. */
  callsThisMonth: number;
  /** The effective monthly call quota (plan, then overrides); null = unlimited. */
  quota: number | null;
  /** (4xx + 5xx) / calls this month, 0..1. */
  errorRate: number;
  /** 0-100, as the customer's dashboard computes it (core/usage/health.ts), over this month. */
  health: number;
  activeKeys: number;
  lastActivityAt: string | null;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The operator console's customers table, for thousands of workspaces: one grouped query pages
 * the workspaces (this month's day rollups and the keys each aggregated once per workspace, then
 * joined), one more sums the histograms and webhook outcomes of that page's workspaces only, for
 * the health score. Offset paging: the table is sorted by computed columns, which a cursor over
 * (created_at, id) could not follow. These are an operator's reads across every workspace.
 */
export async function workspacesOverview(em: EntityManager, input: OverviewInput = {}, now = new Date()): Promise<{ rows: OverviewRow[]; total: number }> {
  const db = typedDb(em);
  const { start } = monthBounds(now.getTime());
  const limit = input.limit ?? 50;
  const offset = input.offset ?? 0;
  const desc = (input.order ?? (input.sort === 'name' || input.sort === undefined ? 'asc' : 'desc')) === 'desc';

  const usage = db
    .selectFrom('usage_day')
    .select((eb) => [
      'workspace_id',
      eb.fn.sum<string>('calls').as('calls'),
      sql<string>`sum(${sql.ref('errors_4xx')} + ${sql.ref('errors_5xx')})`.as('errors'),
      eb.fn.max('bucket').as('last_bucket'),
    ])
    .where('bucket', '>=', start)
    .groupBy('workspace_id')
    .as('u');
  const keys = db
    .selectFrom('api_key')
    .select((eb) => ['workspace_id', eb.fn.countAll<string>().filterWhere('revoked_at', 'is', null).as('active'), eb.fn.max('last_used_at').as('last_used')])
    .groupBy('workspace_id')
    .as('k');

  let base = db.selectFrom('workspace as w');
  if (input.search) {
    const like = `%${escapeLike(input.search)}%`;
    base = base.where((eb) => eb.or([eb('w.id', 'ilike', like), eb('w.name', 'ilike', like)]));
  }
  const calls = sql<string>`coalesce(${sql.ref('u.calls')}, 0)`;
  const errorRate = sql<number>`case when coalesce(${sql.ref('u.calls')}, 0) > 0 then ${sql.ref('u.errors')}::float8 / ${sql.ref('u.calls')} else 0 end`;
  const lastActivity = sql<Date | null>`greatest(${sql.ref('k.last_used')}, ${sql.ref('u.last_bucket')})`;
  const activeKeys = sql<string>`coalesce(${sql.ref('k.active')}, 0)`;
  const sortBy = {
    name: sql.ref('w.name'),
    created: sql.ref('w.created_at'),
    calls,
    errorRate,
    lastActivity,
    keys: activeKeys,
  }[input.sort ?? 'name'];

  const [rows, count] = await Promise.all([
    base
      .leftJoin('plan as p', 'p.id', 'w.plan_id')
      .leftJoin(usage, 'u.workspace_id', 'w.id')
      .leftJoin(keys, 'k.workspace_id', 'w.id')
      .selectAll('p')
      .select([
        'w.id as ws_id',
        'w.name as ws_name',
        'w.overrides as ws_overrides',
        calls.as('calls'),
        sql<string>`coalesce(${sql.ref('u.errors')}, 0)`.as('errors'),
        errorRate.as('error_rate'),
        lastActivity.as('last_activity'),
        activeKeys.as('active_keys'),
      ])
      // Workspaces never active sort last whichever the direction: "most recent" and "least recent" both mean among the active.
      .orderBy(sortBy, (ob) => (desc ? ob.desc() : ob.asc()).nullsLast())
      .orderBy('w.id', desc ? 'desc' : 'asc')
      .limit(limit)
      .offset(offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);

  const health = await healthOf(em, rows.map((r) => r.ws_id), start);
  return {
    total: Number(count.n),
    rows: rows.map((r) => {
      const plan = r.id === null ? null : planLimitsOf(r as never);
      const limits = effectiveLimits(plan, r.ws_overrides ?? {});
      return {
        id: r.ws_id,
        name: r.ws_name,
        planId: plan?.id ?? null,
        planName: plan?.name ?? null,
        callsThisMonth: Number(r.calls),
        quota: limits.monthlyCalls,
        errorRate: Math.round(Number(r.error_rate) * 10_000) / 10_000,
        health: health.get(r.ws_id) ?? 100,
        activeKeys: Number(r.active_keys),
        lastActivityAt: r.last_activity ? new Date(r.last_activity).toISOString() : null,
      };
    }),
  };
}

/** The health score of each of a page's workspaces over the month: two grouped queries, not one per row. */
async function healthOf(em: EntityManager, ids: string[], start: Date): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (ids.length === 0) return out;
  const db = typedDb(em);
  const [sums, hooks] = await Promise.all([
    db
      .selectFrom('usage_day')
      .select((eb) => ['workspace_id', ...rollupSums(eb)])
      .where('workspace_id', 'in', ids)
      .where('bucket', '>=', start)
      .groupBy('workspace_id')
      .execute(),
    db
      .selectFrom('webhook_delivery')
      .select((eb) => [
        'workspace_id',
        eb.fn.countAll<string>().filterWhere('status', '=', 'succeeded').as('ok'),
        eb.fn.countAll<string>().filterWhere('status', 'in', ['succeeded', 'failed']).as('done'),
      ])
      .where('workspace_id', 'in', ids)
      .where('created_at', '>=', start)
      .groupBy('workspace_id')
      .execute(),
  ]);
  const rate = new Map(hooks.map((h) => [h.workspace_id, Number(h.done) === 0 ? null : Number(h.ok) / Number(h.done)]));
  for (const id of ids) {
    const s = sums.find((x) => x.workspace_id === id);
    const totals = s
      ? { calls: Number(s.calls), errors4xx: Number(s.e4), errors5xx: Number(s.e5), latencySum: Number(s.lsum), latencyMax: Number(s.lmax), hist: s.hist.map(Number) }
      : { calls: 0, errors4xx: 0, errors5xx: 0, latencySum: 0, latencyMax: 0, hist: [] };
    out.set(id, summarise(totals, rate.get(id) ?? null).healthScore);
  }
  return out;
}
