import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { notFound } from '../errors.js';
import { workspaceScope } from '../scope.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The ranges a key's history is drawn over, each with its bucket width: at most 168 buckets, and
 * never more than record retention (90 days by default) holds.
 */
export const KEY_HISTORY_RANGES = {
  '1h': { span: HOUR, step: MINUTE },
  '24h': { span: DAY, step: HOUR },
  '7d': { span: 7 * DAY, step: HOUR },
  '30d': { span: 30 * DAY, step: DAY },
} as const;
export type KeyHistoryRange = keyof typeof KEY_HISTORY_RANGES;

export interface KeyHistoryBucket {
  /** Start of the bucket, ISO 8601 UTC. */
  at: string;
  /** Verifications that answered VALID. */
  passed: number;
  /** Verifications that refused the key, whatever the code. */
  refused: number;
  /** Refusals by verification code (`RATE_LIMITED`, `USAGE_EXCEEDED`, `DISABLED`, …); codes with none are left out. */
  byCode: Record<string, number>;
}

export interface KeyHistory {
  keyId: string;
  range: KeyHistoryRange;
  /** Width of each bucket in seconds. */
  bucketSeconds: number;
  buckets: KeyHistoryBucket[];
}

/**
 * Passed and refused verifications of one key over time, oldest bucket first, gaps filled with
 * zeros; the last bucket is the one in progress. Read from the verification records rather than
 * the rollups: the rollups hold no code, and "refused by what" is the point of the chart. Every
 * verification of the key counts, also those a service reports itself (whose record is
 * uncounted only so that the call is not counted twice in the figures). The index on
 * (workspace, key, time) keeps the read to the key's own records in the range.
 */
export async function keyHistory(em: EntityManager, workspaceId: string, keyId: string, range: KeyHistoryRange, now = new Date()): Promise<KeyHistory> {
  const scope = workspaceScope(em, workspaceId);
  // A key of another workspace (or none) is "not found"; a revoked key still has its history.
  await scope.selectFrom('api_key').select('id').where('id', '=', keyId).executeTakeFirstOrThrow(() => notFound('API key', keyId));
  const { span, step } = KEY_HISTORY_RANGES[range];
  const n = span / step;
  const to = Math.floor(now.getTime() / step) * step + step;
  const from = to - n * step;
  const seconds = step / 1000;
  const rows = await scope
    .selectFrom('usage_record')
    .select((eb) => [
      sql<number>`floor(extract(epoch from ${eb.ref('created_at')}) / ${sql.lit(seconds)}) * ${sql.lit(seconds)}`.as('t'),
      'code',
      eb.fn.countAll<string>().as('n'),
    ])
    .where('key_id', '=', keyId)
    .where('source', '=', 'verification')
    .where('created_at', '>=', new Date(from))
    .where('created_at', '<', new Date(to))
    .groupBy(['t', 'code'])
    .execute();
  const buckets: KeyHistoryBucket[] = [];
  const index = new Map<number, KeyHistoryBucket>();
  for (let t = from; t < to; t += step) {
    const b = { at: new Date(t).toISOString(), passed: 0, refused: 0, byCode: {} };
    buckets.push(b);
    index.set(t, b);
  }
  for (const r of rows) {
    const b = index.get(Number(r.t) * 1000);
    if (!b) continue;
    const count = Number(r.n);
    if (r.code === 'VALID') b.passed += count;
    else {
      b.refused += count;
      const code = r.code ?? 'UNKNOWN';
      b.byCode[code] = (b.byCode[code] ?? 0) + count;
    }
  }
  return { keyId, range, bucketSeconds: seconds, buckets };
}
