/**
 * Why PostgreSQL would refuse this string in a text or jsonb value, or undefined when it would not.
 * It refuses NUL (`\u0000`) in both, and a lone UTF-16 surrogate cannot be encoded as UTF-8 (jsonb
 * rejects its escape). Sent on, either is a database error mid-request: a 500 instead of a 400.
 * The message never repeats the string: it may be anything.
 */
export function unstorableText(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  // ES2024's String.prototype.isWellFormed (Node 20+), outside the ES2023 lib this project builds against.
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) return 'contains a lone UTF-16 surrogate; send well-formed Unicode';
  return undefined;
}
