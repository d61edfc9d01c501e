import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may carry a secret; pino replaces them before a line is written. */
const redact = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.secret',
  '*.apiKey',
  '*.api_key',
  '*.key',
  'secret',
  'apiKey',
];

export function createLogger(level: string, name = 'gatehouse'): Logger {
  return pino({ name, level, redact: { paths: redact, censor: '[redacted]' } });
}
