import { z } from 'zod';
import { isAllowListValid } from './webhooks/egress.js';

const port = z.coerce.number().int().min(1).max(65535);
/** An unset variable and one set to the empty string (as .env files often leave them) mean the same. */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().or(z.literal('').transform(() => undefined));

const schema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: optional(z.url()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')),
  GATEHOUSE_DATA_DIR: z.string().min(1).default('.data'),
  GATEHOUSE_POSTGRES_PORT: port.default(54329),
  TEMPORAL_ADDRESS: optional(z.string().regex(/^[^\s:/]+:\d+$/, 'host:port, e.g. 127.0.0.1:7233')),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('gatehouse'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_UI_URL: optional(z.url()),
  GATEHOUSE_BOOTSTRAP_KEY: optional(z.string().min(32, 'at least 32 characters').regex(/^\S+$/, 'no whitespace')),
  GATEHOUSE_KEY_PEPPER: optional(z.string().min(32, 'at least 32 characters')),
  GATEHOUSE_DEFAULT_WORKSPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes, 2-63 characters')
    .default('default'),
  GATEHOUSE_EGRESS_ALLOW_CIDRS: z.string().default('').refine((v) => isAllowListValid(v), 'comma-separated CIDRs such as 10.0.0.0/8,fd00::/8'),
  /** Webhook signing secrets are encrypted with a key derived from it; unset, a random per-install key in the database is used. */
  GATEHOUSE_SECRET_KEY: optional(z.string().min(32, 'at least 32 characters')),
  GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: optional(z.string().regex(/^\s*\d+(ms|s|m|h)?(\s*,\s*\d+(ms|s|m|h)?)*\s*$/, 'comma-separated delays such as 0,5s,5m,30m,2h')),
  GATEHOUSE_USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /** A limit request nobody decided expires after this many days (the limit-request-expiry Schedule). */
  GATEHOUSE_LIMIT_REQUEST_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(14),
  /**
   * Express's `trust proxy`: which peers may set X-Forwarded-For/-Proto. Off by default, so no
   * client can choose the address its IP allowlist and the audit log see.
   */
  GATEHOUSE_TRUST_PROXY: z
    .string()
    .default('false')
    .refine((v) => isTrustProxyValid(v), 'false, true, a hop count, loopback/linklocal/uniquelocal, or comma-separated addresses/CIDRs'),
  /** Origins allowed to frame the customer portal (CSP frame-ancestors; partitioned session cookie); empty: none. */
  GATEHOUSE_PORTAL_FRAME_ANCESTORS: z
    .string()
    .default('')
    .refine((v) => v.split(/[\s,]+/).filter(Boolean).every((s) => /^(https?:\/\/[^\s,;'"]+|'self')$/.test(s)), "space- or comma-separated origins such as https://app.example.com, or 'self'"),
  /** Origins a customer-portal sign-in link may send its person back to (`return_url`); empty: none. */
  GATEHOUSE_PORTAL_RETURN_ORIGINS: z
    .string()
    .default('')
    .refine((v) => v.split(',').map((s) => s.trim()).filter(Boolean).every((s) => /^https?:\/\/[^\s/?#]+$/.test(s)), 'comma-separated origins such as https://app.example.com'),
  /** Days between rotations of the OAuth signing key (the signing-key-rotation Schedule). */
  GATEHOUSE_OAUTH_ROTATION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Webhook endpoints one workspace may have, so one event cannot fan out without bound. */
  GATEHOUSE_MAX_WEBHOOK_ENDPOINTS: z.coerce.number().int().min(1).max(10_000).default(50),
  /** The worker's `GET /metrics` port (on HOST); unset, the worker serves no metrics. API processes serve them on PORT. */
  METRICS_PORT: optional(port),
  /** Set: `GET /metrics` needs `Authorization: Bearer <token>` (docs/operations.md). */
  GATEHOUSE_METRICS_TOKEN: optional(z.string().min(16, 'at least 16 characters').regex(/^\S+$/, 'no whitespace')),
  /**
   * Seconds an API process keeps serving after SIGTERM, its /readyz answering 503 and every answer
   * closing its connection, before it stops accepting: a load balancer's time to stop sending to it.
   */
  GATEHOUSE_DRAIN_SECONDS: z.coerce.number().min(0).max(300).default(0),
  /** Set: each process exports traces by OTLP/HTTP to `<endpoint>/v1/traces`; unset, tracing is off (docs/operations.md). */
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(z.url()),
});

/** What Express accepts for `trust proxy` that we allow: a boolean, a hop count, named ranges or addresses. */
function isTrustProxyValid(v: string): boolean {
  const s = v.trim();
  if (s === 'false' || s === 'true' || /^\d{1,2}$/.test(s)) return true;
  return s.split(',').every((part) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(part.trim()));
}

/** GATEHOUSE_TRUST_PROXY as Express's `trust proxy` setting. */
export function trustProxySetting(config: Pick<Config, 'GATEHOUSE_TRUST_PROXY'>): boolean | number | string {
  const s = config.GATEHOUSE_TRUST_PROXY.trim();
  if (s === 'false') return false;
  if (s === 'true') return true;
  if (/^\d+$/.test(s)) return Number(s);
  return s;
}

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads every environment variable Gatehouse knows; nothing else in the code reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // GATEHOUSE_FRAME_ANCESTORS is the variable's old name, still read so existing installs keep their setting.
  const parsed = schema.safeParse({ GATEHOUSE_PORTAL_FRAME_ANCESTORS: env['GATEHOUSE_FRAME_ANCESTORS'], ...env });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = String(issue.path[0]);
  // Never echo a value: some variables hold secrets.
  throw new ConfigError(`Invalid environment variable ${name}: ${describe(issue)}`);
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'too_small' && 'minimum' in issue) {
    return issue.origin === 'string' ? `expected at least ${issue.minimum} characters` : `expected a number >= ${issue.minimum}`;
  }
  if (issue.code === 'too_big' && 'maximum' in issue) return `expected a number <= ${issue.maximum}`;
  if (issue.code === 'invalid_value' && 'values' in issue) return `expected one of ${issue.values.join(', ')}`;
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_format' && issue.format === 'regex') return `expected ${issue.message}`;
  return issue.message;
}

/** GATEHOUSE_PORTAL_FRAME_ANCESTORS as a list: CSP source expressions, and where the portal may post its messages. */
export function frameAncestors(config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>): string[] {
  return config.GATEHOUSE_PORTAL_FRAME_ANCESTORS.split(/[\s,]+/).filter(Boolean);
}

export function temporalUiUrl(config: Config): string {
  return config.TEMPORAL_UI_URL ?? `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`;
}
