// The time a usage report carries, for both adapters (express.ts, fetch.ts).

/**
 * The wall clock as ISO 8601 at `perfNow` (a `performance.now()` the caller has read anyway): read
 * once per millisecond of the monotonic clock however many responses finish in it, so a response
 * costs one clock read, not two; and formatted by `toISOString` once per second, the milliseconds
 * written after the second's prefix (`toISOString` once a millisecond was ~0.35 µs a response on a
 * slow machine, profiled in BENCHMARKS.md). The wall clock is still what is written (never
 * `timeOrigin` plus the monotonic clock, which drifts from it when the system clock is adjusted).
 */
let isoPerfAt = -Infinity;
let iso = '';
let second = NaN;
let secondPrefix = '';
export function isoAt(perfNow: number): string {
  if (perfNow - isoPerfAt >= 1) {
    isoPerfAt = perfNow;
    const ms = Date.now();
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      // `2026-12-04T15:20:31.`: the part before the milliseconds, the same for the whole second.
      secondPrefix = new Date(s * 1000).toISOString().slice(0, -4);
    }
    const m = ms - s * 1000;
    iso = `${secondPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
  }
  return iso;
}
