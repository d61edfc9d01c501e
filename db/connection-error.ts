/**
 * What to log about a PostgreSQL connection error: its message and SQLSTATE or errno code only.
 * node-postgres hangs the client on an idle client's error (`err.client`), and a logger that
 * serialises the error writes out its connection parameters, password included, and the
 * backend's cancel key. Log it under a key other than `err`: pino's error serializer would add
 * an empty stack and a type to it.
 */
export function connectionErrorFields(err: unknown): { message: string; code?: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
}
