import type pg from 'pg';

/**
 * The refill is due when the last one (or the key's creation) happened before the start of the
 * current UTC day or month. Written inline on `k` (not in a CTE) so that, under concurrent
 * charges, PostgreSQL re-evaluates it on the row version it locked: two callers racing at
 * midnight cannot both refill.
 */
const DUE = `(k.credits_refill_amount is not null and k.credits_refill_interval in ('daily', 'monthly')
  and coalesce(k.credits_refilled_at, k.created_at)
      < date_trunc(case k.credits_refill_interval when 'daily' then 'day' else 'month' end, now() at time zone 'utc') at time zone 'utc')`;
const AVAILABLE = `(case when ${DUE} then k.credits_refill_amount else k.credits_remaining end)`;

/** One statement: refill if due, then charge only if enough is left; never below zero. */
// raw SQL: the atomic charge per verification on the verifier's own pg pool (measured in BENCHMARKS.md)
const CHARGE_SQL = `
  update api_key k
     set credits_remaining = ${AVAILABLE} - $2::int,
         credits_refilled_at = case when ${DUE} then now() else k.credits_refilled_at end
   where k.pk = $1 and k.credits_remaining is not null and ${AVAILABLE} >= $2::int
  returning k.credits_remaining`;

// raw SQL: the same refill expression as CHARGE_SQL, read when a charge is refused
const PEEK_SQL = `select ${AVAILABLE} as credits from api_key k where k.pk = $1`;

export interface ChargeResult {
  charged: boolean;
  /** Credits left after the charge (or, when refused, what is there now); null = unmetered. */
  remaining: number | null;
}

export async function chargeCredits(pool: pg.Pool, keyPk: string, cost: number, onQuery: () => void = () => {}): Promise<ChargeResult> {
  onQuery();
  // Prepared once per connection under this name: PostgreSQL plans the charge once, not per call.
  const res = await pool.query<{ credits_remaining: number }>({ name: 'gatehouse-credits-charge', text: CHARGE_SQL }, [keyPk, cost]);
  const row = res.rows[0];
  if (row) return { charged: true, remaining: row.credits_remaining };
  onQuery();
  const peek = await pool.query<{ credits: number | null }>(PEEK_SQL, [keyPk]);
  const credits = peek.rows[0]?.credits ?? null;
  // A key that became unmetered between the cached read and now: nothing to charge.
  if (credits === null) return { charged: true, remaining: null };
  return { charged: false, remaining: credits };
}
