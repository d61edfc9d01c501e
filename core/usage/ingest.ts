import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { workspaceScope } from '../scope.js';
import type { Usage } from './index.js';

export const MAX_REPORTED_RECORDS = 1_000;
/** Reports may arrive late (a service's buffer, a retry), but not so late that closed months change. */
export const MAX_REPORT_AGE_MS = 7 * 86_400_000;
const MAX_FUTURE_MS = 5 * 60_000;

/** One call a protected service reports (snake_case, as REST). */
export const ReportedRecord = z.strictObject({
  key_id: z.string().min(1).max(128).nullable().optional(),
  method: z.string().regex(/^[A-Za-z]{3,10}$/, 'expected an HTTP method such as GET'),
  route: z.string().min(1).max(200).regex(/^\//, 'expected a route pattern starting with "/", e.g. /products/{id}'),
  status: z.number().int().min(100).max(599),
  latency_ms: z.number().min(0).max(3_600_000),
  time: z.iso.datetime({ offset: true }).optional(),
  code: z.string().regex(/^[A-Z_]{1,32}$/, 'expected a verification code such as VALID').nullable().optional(),
});
export type ReportedRecord = z.infer<typeof ReportedRecord>;

export interface IngestResult {
  accepted: number;
  rejected: number;
  errors: { index: number; field?: string; message: string }[];
}

/**
 * Validates each reported record on its own: the good ones are buffered, each bad one is named
 * by index, field and reason. A key id must name a key of the reporting workspace.
 */
export async function ingestReported(em: EntityManager, usage: Usage, workspaceId: string, records: unknown[], now = Date.now()): Promise<IngestResult> {
  const errors: IngestResult['errors'] = [];
  const valid: { index: number; r: ReportedRecord; at: Date }[] = [];
  records.forEach((raw, index) => {
    const parsed = ReportedRecord.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.map(String).join('.') || undefined;
      errors.push({ index, field, message: `${field ?? 'record'}: ${issue.message}` });
      return;
    }
    const at = parsed.data.time ? new Date(parsed.data.time) : new Date(now);
    if (at.getTime() < now - MAX_REPORT_AGE_MS || at.getTime() > now + MAX_FUTURE_MS) {
      errors.push({ index, field: 'time', message: 'time: must be within the last 7 days and not in the future' });
      return;
    }
    valid.push({ index, r: parsed.data, at });
  });

  const ids = [...new Set(valid.map((v) => v.r.key_id).filter((k): k is string => !!k))];
  const known = new Set<string>();
  if (ids.length > 0) {
    const rows = await workspaceScope(em, workspaceId)
      .selectFrom('api_key')
      .select('id')
      .where((eb) => eb('id', '=', eb.fn.any(eb.val(ids))))
      .execute();
    rows.forEach((r) => known.add(r.id));
  }
  let accepted = 0;
  for (const { index, r, at } of valid) {
    if (r.key_id && !known.has(r.key_id)) {
      errors.push({ index, field: 'key_id', message: `key_id: no key '${r.key_id.slice(0, 64)}' in this workspace` });
      continue;
    }
    usage.record({
      workspaceId,
      keyId: r.key_id ?? null,
      source: 'service',
      method: r.method.toUpperCase(),
      route: r.route,
      status: r.status,
      latencyMs: r.latency_ms,
      code: r.code ?? null,
      at,
    });
    accepted++;
  }
  errors.sort((a, b) => a.index - b.index);
  return { accepted, rejected: errors.length, errors };
}
