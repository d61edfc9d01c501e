import { setImmediate } from 'node:timers/promises';
import { z } from 'zod';
import { ingestReported, MAX_REPORTED_RECORDS, type IngestProblem, type ReportedCall } from '../../core/usage/ingest.js';
import { keyUsage } from '../../core/usage/key-usage.js';
import { keyHistory, KEY_HISTORY_RANGES, type KeyHistoryRange } from '../../core/usage/key-history.js';
import { LOG_KINDS, LOG_SOURCES, searchLogs, STATUS_FILTER } from '../../core/usage/logs.js';
import { summary, timeseries, MAX_POINTS } from '../../core/usage/queries.js';
import { providerUsage, ProviderUsageInput } from '../../core/usage/provider.js';
import { resolveRange } from '../../core/usage/range.js';
import { badRequest } from '../../core/errors.js';
import { camelKeys, snakeField, snakeKeys, snakeKeysDeep } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['usage'];

const time = (description: string) =>
  z
    .string()
    .refine((s) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date or date-time, e.g. 2026-11-01T00:00:00Z')
    .transform((s) => new Date(s))
    .optional()
    .meta({ description, example: '2026-11-01T00:00:00Z' });

const RangeQuery = z.object({
  from: time('Start, inclusive (default: the start of this month, UTC).'),
  to: time('End, exclusive (default: the start of next month, UTC).'),
});

const SummaryResponse = z
  .object({
    calls: z.number().int(),
    errors_4xx: z.number().int(),
    errors_5xx: z.number().int(),
    error_rate: z.number().meta({ description: '(4xx + 5xx) / calls, from 0 to 1' }),
    avg_latency_ms: z.number(),
    p95_latency_ms: z.number().meta({ description: 'Upper bound of the latency bucket holding the 95th percentile (docs/usage.md)' }),
    health_score: z.number().int().meta({ description: '0–100, formula in docs/usage.md' }),
    health_parts: z
      .object({ errors: z.number().int(), latency: z.number().int(), webhooks: z.number().int() })
      .meta({ description: 'The score’s components, each 0–100 before weighting (50 %, 30 %, 20 %)' }),
  })
  .meta({ id: 'UsageSummary' });

export const usageSummaryRoute = defineRoute({
  method: 'get',
  path: '/usage/summary',
  summary: "Calls, errors, latency and health score of the caller's workspace (default: this month)",
  tags: TAGS,
  scope: 'usage:read',
  query: RangeQuery.extend({ key_id: z.string().min(1).max(128).optional() }),
  response: SummaryResponse,
  handler: async ({ query, ctx }) => snakeKeys(await summary(ctx.em, ctx.principal.workspaceId, resolveRange(query), query.key_id)),
});

const KeyUsageResponse = z
  .object({
    calls_today: z.number().int(),
    calls_month: z.number().int(),
    refused_today: z.number().int().meta({ description: 'Calls today a verification refused (rate limit, credits, disabled, …).' }),
    refused_month: z.number().int(),
    rate_limits: z.array(
      z.object({
        name: z.string(),
        limit: z.number().int(),
        window_seconds: z.number().int(),
        used: z.number().int(),
        remaining: z.number().int(),
        reset_at: z.string(),
      }),
    ),
    credits_remaining: z.number().int().nullable(),
    rate_warnings: z
      .array(
        z.object({
          limit_name: z.string(),
          state: z.enum(['approaching', 'exceeded']),
          used: z.number().int(),
          limit: z.number().int(),
          refused: z.number().int(),
          window_start: z.string().nullable(),
          window_end: z.string(),
        }),
      )
      .meta({ description: 'Per limit, the last window in the past day that warned (80 % used, or exceeded with its RATE_LIMITED refusals).' }),
  })
  .meta({ id: 'KeyUsage' });

export const keyHistoryRoute = defineRoute({
  method: 'get',
  path: '/usage/keys/{id}/history',
  summary: 'Passed and refused verifications of a key over time, refusals by code',
  tags: TAGS,
  scope: 'usage:read',
  params: z.object({ id: z.string().min(1).max(128) }),
  query: z.object({ range: z.enum(Object.keys(KEY_HISTORY_RANGES) as [KeyHistoryRange, ...KeyHistoryRange[]]).default('24h') }),
  errors: [404],
  response: z
    .object({
      key_id: z.string(),
      range: z.string(),
      bucket_seconds: z.number().int(),
      buckets: z.array(z.object({ at: z.string(), passed: z.number().int(), refused: z.number().int(), by_code: z.record(z.string(), z.number().int()) })),
    })
    .meta({ id: 'KeyHistory' }),
  // by_code's keys are verification codes (data): snakeKeys renames only the envelope and each bucket.
  handler: async ({ params, query, ctx }) => {
    const h = await keyHistory(ctx.em, ctx.principal.workspaceId, params.id, query.range);
    return { ...snakeKeys(h), buckets: h.buckets.map(snakeKeys) };
  },
});

export const keyUsageRoute = defineRoute({
  method: 'get',
  path: '/usage/keys/{id}',
  summary: 'Calls today and this month (UTC), rate limits as used right now, credits left',
  tags: TAGS,
  scope: 'usage:read',
  params: z.object({ id: z.string().min(1).max(128) }),
  errors: [404],
  response: KeyUsageResponse,
  handler: async ({ params, ctx }) => snakeKeysDeep(await keyUsage(ctx.em, ctx.principal.workspaceId, params.id)),
});

const TimeseriesResponse = z
  .object({
    interval: z.enum(['hour', 'day']),
    from: z.string(),
    to: z.string(),
    points: z.array(
      z.object({
        t: z.string(),
        calls: z.number().int(),
        errors_4xx: z.number().int(),
        errors_5xx: z.number().int(),
        avg_latency_ms: z.number(),
        p95_latency_ms: z.number(),
      }),
    ),
  })
  .meta({ id: 'UsageTimeseries' });

export const timeseriesRoute = defineRoute({
  method: 'get',
  path: '/usage/timeseries',
  summary: 'Calls, errors and latency per hour or per UTC day, gaps filled with zeros, for charts',
  tags: TAGS,
  scope: 'usage:read',
  query: RangeQuery.extend({
    interval: z.enum(['hour', 'day']).default('day'),
    key_id: z.string().min(1).max(128).optional(),
  }),
  response: TimeseriesResponse,
  handler: async ({ query, ctx }) => {
    const range = resolveRange(query);
    const step = query.interval === 'hour' ? 3_600_000 : 86_400_000;
    if ((range.to.getTime() - range.from.getTime()) / step > MAX_POINTS) {
      throw badRequest(`to: at most ${MAX_POINTS} ${query.interval}s per request; narrow the range or use a larger interval`, 'to');
    }
    const points = await timeseries(ctx.em, ctx.principal.workspaceId, range, query.interval, query.key_id);
    return { interval: query.interval, from: range.from.toISOString(), to: range.to.toISOString(), points: points.map(snakeKeys) };
  },
});

const IngestResponse = z
  .object({
    accepted: z.number().int(),
    rejected: z.number().int(),
    errors: z.array(z.object({ index: z.number().int(), field: z.string().optional(), message: z.string() })),
  })
  .meta({ id: 'UsageIngestResult' });

/** One call a protected service reports (the wire format of client/express.ts), checked record by record. */
const ReportedRecord = z.strictObject({
  key_id: z.string().min(1).max(128).nullable().optional(),
  method: z.string().regex(/^[A-Za-z]{3,10}$/, 'expected an HTTP method such as GET'),
  route: z.string().min(1).max(200).regex(/^\//, 'expected a route pattern starting with "/", e.g. /products/{id}'),
  status: z.number().int().min(100).max(599),
  latency_ms: z.number().min(0).max(3_600_000),
  time: z.iso.datetime({ offset: true }).optional(),
  code: z.string().regex(/^[A-Z_]{1,32}$/, 'expected a verification code such as VALID').nullable().optional(),
});

/** Read with the larger body limit (server/app.ts): 5,000 records of the longest fields are ~2.3 MB. */
export const REPORT_USAGE_PATH = '/v1/usage';
/** Records checked between two turns of the event loop: a full batch must not hold up verifications for its whole length. */
const CHECKED_PER_TURN = 500;

/** Each record's shape checked on its own, so one bad record names itself and the rest still count. */
async function readRecords(records: unknown[]): Promise<{ calls: { index: number; call: ReportedCall }[]; problems: IngestProblem[] }> {
  const calls: { index: number; call: ReportedCall }[] = [];
  const problems: IngestProblem[] = [];
  for (let index = 0; index < records.length; index++) {
    if (index > 0 && index % CHECKED_PER_TURN === 0) await setImmediate();
    const raw = records[index];
    const parsed = ReportedRecord.safeParse(raw);
    if (parsed.success) {
      // Spelled out rather than camelKeys: this runs per reported call, up to MAX_REPORTED_RECORDS per request,
      // and the generic renamer's regex per key was a quarter of the route's CPU (bench middleware --profile-api).
      const d = parsed.data;
      calls.push({ index, call: { keyId: d.key_id, method: d.method, route: d.route, status: d.status, latencyMs: d.latency_ms, time: d.time, code: d.code } });
      continue;
    }
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || undefined;
    problems.push({ index, field, message: `${field ?? 'record'}: ${issue.message}` });
  }
  return { calls, problems };
}

export const reportUsageRoute = defineRoute({
  method: 'post',
  path: REPORT_USAGE_PATH,
  summary: 'Report calls your API served (status, latency): 202 when all were accepted, 207 with per-record errors otherwise',
  tags: TAGS,
  scope: 'usage:write',
  body: z.object({
    records: z
      .array(z.unknown())
      .min(1, 'expected at least one record')
      .max(MAX_REPORTED_RECORDS, `at most ${MAX_REPORTED_RECORDS} records per request`)
      .meta({
        description: 'Each: key_id, method, route (the pattern, e.g. /products/{id}), status, latency_ms, time (ISO, optional), code (optional).',
        example: [{ key_id: 'api-key-produccion-2024', method: 'GET', route: '/products/{id}', status: 200, latency_ms: 42.5 }],
      }),
  }),
  status: 202,
  errors: [207],
  response: IngestResponse,
  handler: async ({ body, ctx, res }) => {
    const { calls, problems } = await readRecords(body.records);
    const ingested = await ingestReported(ctx.em, ctx.usage, ctx.principal.workspaceId, calls);
    const errors = [...problems, ...ingested.errors.map(snakeField)].sort((a, b) => a.index - b.index);
    const result = { accepted: ingested.accepted, rejected: errors.length, errors };
    // Sent here: the route runner would answer with the route's fixed status.
    res.status(result.rejected > 0 ? 207 : 202).json(result);
    return result;
  },
});

const LogEntry = z.object({
  id: z.string(),
  time: z.string(),
  key_id: z.string().nullable(),
  source: z.string().meta({ description: 'verification or service (reported by your API): your API\'s traffic; api (Gatehouse\'s API called with a key) or ui (Gatehouse\'s web UI): calls to Gatehouse itself, never counted in usage' }),
  method: z.string(),
  route: z.string(),
  status: z.number().int(),
  latency_ms: z.number(),
  code: z.string().nullable(),
});

export const LogsQuery = z.object({
  key_id: z.string().min(1).max(128).optional(),
  route: z.string().min(1).max(200).optional(),
  method: z.string().regex(/^[A-Za-z]{3,10}$/, 'expected an HTTP method').optional(),
  status: z.string().regex(STATUS_FILTER, 'expected a status such as 404 or a class such as 4xx').optional(),
  source: z.enum(LOG_SOURCES).optional().meta({ description: 'Only records of this source.' }),
  kind: z
    .enum(LOG_KINDS)
    .optional()
    .meta({ description: 'traffic (default when no source is given): your API\'s verifications and reported calls; management: calls to Gatehouse\'s API and UI; all: both.' }),
  from: time('Oldest time, inclusive.'),
  to: time('Newest time, exclusive.'),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const logsRoute = defineRoute({
  method: 'get',
  path: '/logs',
  summary: 'Request log, newest first: filter by key, route, method, status (404 or 4xx), source and time; cursor pagination',
  tags: TAGS,
  scope: 'usage:read',
  query: LogsQuery,
  response: z.object({ entries: z.array(LogEntry), next_cursor: z.string().nullable() }).meta({ id: 'RequestLogPage' }),
  handler: async ({ query, ctx }) => {
    const page = await searchLogs(ctx.em, ctx.principal.workspaceId, camelKeys(query));
    return { entries: page.entries.map(snakeKeys), next_cursor: page.nextCursor };
  },
});

const ProviderTop = z.array(z.object({ workspace_id: z.string(), name: z.string(), calls: z.number().int(), errors: z.number().int() }));

export const providerUsageRoute = defineRoute({
  method: 'get',
  path: '/usage/provider',
  summary: 'Operators only: calls and errors per UTC day across every workspace, and the top 10 workspaces by calls and by errors (default: the last 30 days)',
  tags: TAGS,
  scope: 'operator',
  query: z.strictObject({ days: ProviderUsageInput.shape.days }),
  response: z
    .object({
      from: z.string(),
      to: z.string(),
      daily: z.array(z.object({ date: z.string(), calls: z.number().int(), errors: z.number().int() })),
      top_by_calls: ProviderTop,
      top_by_errors: ProviderTop,
    })
    .meta({ id: 'ProviderUsage' }),
  handler: async ({ query, ctx }) => {
    const u = await providerUsage(ctx.em, query);
    return { ...snakeKeys(u), top_by_calls: u.topByCalls.map(snakeKeys), top_by_errors: u.topByErrors.map(snakeKeys) };
  },
});

export const usageRoutes = [
  usageSummaryRoute,
  providerUsageRoute,
  keyUsageRoute,
  keyHistoryRoute,
  timeseriesRoute,
  reportUsageRoute,
  logsRoute,
];
