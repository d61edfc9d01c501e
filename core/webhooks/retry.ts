/**
 * Svix's retry schedule: the delay before each attempt, first one immediate. Eight attempts
 * over about 28 hours. Tests pass their own schedule in milliseconds.
 */
export const SVIX_SCHEDULE_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Each scheduled delay moves by up to ±20 %, so endpoints that failed together do not retry in lockstep. */
export const JITTER = 0.2;

/**
 * How long to wait after attempt `attempt` (1-based) failed, or undefined when the schedule is
 * spent. A `Retry-After` from the endpoint is honoured within 1x–2x of the scheduled delay: it can
 * slow Gatehouse down, never speed it up, nor stall a delivery indefinitely.
 * `random` is in [0, 1) — Math.random in production, fixed in tests.
 */
export function calculateRetryDelay(
  schedule: readonly number[],
  attempt: number,
  retryAfterMs: number | undefined,
  random: number,
): number | undefined {
  const scheduled = schedule[attempt];
  if (scheduled === undefined) return undefined;
  const jittered = Math.round(scheduled * (1 + JITTER * (2 * random - 1)));
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return jittered;
  return Math.min(Math.max(retryAfterMs, jittered), 2 * scheduled);
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` → milliseconds from `now`. */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `0,5s,5m,30m,2h` (a bare number is seconds, as in Svix's config) → delays in ms; unset: Svix's schedule. */
export function parseRetrySchedule(value: string | undefined): number[] {
  if (!value) return [...SVIX_SCHEDULE_MS];
  return value.split(',').map((part) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(part.trim());
    if (!m) throw new Error(`GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '${part.trim()}' is not a delay such as 5s or 30m`);
    return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
  });
}
