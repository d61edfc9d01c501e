import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { workspaceScope } from '../scope.js';

/** The last rate-limit window of a key that warned, as it ended (or stands, if still open). */
export interface RateWarning {
  limitName: string;
  /** `exceeded` when the limit was used up or a call refused in that window, else `approaching` (≥ 80 %). */
  state: 'approaching' | 'exceeded';
  /** Calls counted against the limit in that window when the warning was raised. */
  used: number;
  limit: number;
  /** RATE_LIMITED refusals of the key in that window, from its verification records. */
  refused: number;
  /** Null when the warning named a limit the key no longer has (its window is unknown). */
  windowStart: string | null;
  windowEnd: string;
}

/** How far back the last warnings are kept on the dashboard: a day's windows, whatever their width. */
export const RATE_WARNING_LOOKBACK_MS = 86_400_000;

const TYPES = ['usage.rate_limit.approaching', 'usage.rate_limit.exceeded'] as const;

interface WarningPayload {
  key_id: string;
  limit_name: string;
  limit: number;
  used: number;
  window_start: string | null;
  reset_at: string;
}

/**
 * Per key and limit, the last window that raised a warning (usage.rate_limit.approaching or
 * .exceeded) in the last day, so the dashboard keeps saying what happened after the window rolled
 * over: "exceeded — 25 refused" rather than a live "9 of 10". The events are the record of what
 * the limit watcher saw (core/usage/limits.ts); the refusals are counted from the records of that
 * window, so they include the calls refused after the warning went out. Two queries for any
 * number of keys: the latest warning per key and limit (DISTINCT ON), then the refusals of those
 * windows in one join.
 */
export async function lastRateWarnings(em: EntityManager, workspaceId: string, keyIds: readonly string[], now = new Date()): Promise<Map<string, RateWarning[]>> {
  const out = new Map<string, RateWarning[]>();
  if (keyIds.length === 0) return out;
  const scope = workspaceScope(em, workspaceId);
  const keyOf = sql<string>`payload->>'key_id'`;
  const nameOf = sql<string>`payload->>'limit_name'`;
  const events = await scope
    .selectFrom('event')
    .distinctOn([keyOf, nameOf])
    .select(['type', 'payload'])
    .where('type', 'in', TYPES)
    .where('created_at', '>=', new Date(now.getTime() - RATE_WARNING_LOOKBACK_MS))
    .where((eb) => eb(keyOf, '=', eb.fn.any(eb.val([...keyIds]))))
    // The newest window first; within one window, exceeded over approaching.
    .orderBy(keyOf)
    .orderBy(nameOf)
    .orderBy(sql`payload->>'reset_at'`, 'desc')
    .orderBy(sql`type = 'usage.rate_limit.exceeded'`, 'desc')
    .execute();
  const warnings = events.map((e) => ({ type: e.type, p: e.payload as unknown as WarningPayload }));
  const known = warnings.filter((w) => w.p.window_start !== null);
  const refusals =
    known.length === 0
      ? []
      : await scope
          .selectFrom('usage_record')
          .innerJoin(
            sql<{ k: string; f: Date; t: Date }>`unnest(${known.map((w) => w.p.key_id)}::text[], ${known.map((w) => w.p.window_start)}::timestamptz[], ${known.map((w) => w.p.reset_at)}::timestamptz[])`.as<'w'>(
              sql`w(k, f, t)`,
            ),
            (join) => join.onRef('usage_record.key_id', '=', 'w.k').onRef('usage_record.created_at', '>=', 'w.f').onRef('usage_record.created_at', '<', 'w.t'),
          )
          .select((eb) => ['w.k', 'w.f', eb.fn.countAll<string>().as('n')])
          .where('usage_record.source', '=', 'verification')
          .where('usage_record.code', '=', 'RATE_LIMITED')
          .groupBy(['w.k', 'w.f'])
          .execute();
  const refusedIn = new Map(refusals.map((r) => [`${r.k}\u0000${new Date(r.f).getTime()}`, Number(r.n)]));
  for (const { type, p } of warnings) {
    const refused = p.window_start === null ? 0 : (refusedIn.get(`${p.key_id}\u0000${new Date(p.window_start).getTime()}`) ?? 0);
    const warning: RateWarning = {
      limitName: p.limit_name,
      state: type === 'usage.rate_limit.exceeded' || refused > 0 ? 'exceeded' : 'approaching',
      used: p.used,
      limit: p.limit,
      refused,
      windowStart: p.window_start,
      windowEnd: p.reset_at,
    };
    const list = out.get(p.key_id);
    if (list) list.push(warning);
    else out.set(p.key_id, [warning]);
  }
  return out;
}
