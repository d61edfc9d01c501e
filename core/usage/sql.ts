/**
 * A PostgreSQL array literal (`{"a","b"}`) for `?::text[]`: MikroORM's `execute` spreads a JS
 * array parameter into a list, so arrays travel as one quoted string instead.
 */
export function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
