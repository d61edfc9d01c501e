import type { EntityManager } from '@mikro-orm/postgresql';
import { workspaceScope } from '../scope.js';
import type { Usage } from './index.js';

/**
 * Records per `POST /v1/usage`. A busy service's middleware sends batches this large: its cost per
 * request is mostly the round trips, not the bytes (BENCHMARKS.md, "Where the middleware's cost goes").
 */
export const MAX_REPORTED_RECORDS = 5_000;
/** Reports may arrive late (a service's buffer, a retry), but not so late that closed months change. */
export const MAX_REPORT_AGE_MS = 7 * 86_400_000;
const MAX_FUTURE_MS = 5 * 60_000;

/** One call a protected service reports, its shape already checked (POST /v1/usage: server/rest/usage.ts). */
export interface ReportedCall {
  keyId?: string | null;
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  /** ISO 8601; now when omitted. */
  time?: string;
  code?: string | null;
}

export interface IngestProblem {
  index: number;
  field?: string;
  message: string;
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  errors: IngestProblem[];
}

/**
 * Records each reported call on its own: the good ones are buffered, each bad one is named by its
 * index in the batch, field and reason. A key id must name a key of the reporting workspace.
 */
export async function ingestReported(
  em: EntityManager,
  usage: Usage,
  workspaceId: string,
  calls: readonly { index: number; call: ReportedCall }[],
  now = Date.now(),
): Promise<IngestResult> {
  const errors: IngestProblem[] = [];
  const valid: { index: number; r: ReportedCall; at: Date }[] = [];
  for (const { index, call } of calls) {
    const at = call.time ? new Date(call.time) : new Date(now);
    if (at.getTime() < now - MAX_REPORT_AGE_MS || at.getTime() > now + MAX_FUTURE_MS) {
      errors.push({ index, field: 'time', message: 'time: must be within the last 7 days and not in the future' });
      continue;
    }
    valid.push({ index, r: call, at });
  }

  const ids = [...new Set(valid.map((v) => v.r.keyId).filter((k): k is string => !!k))];
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
    if (r.keyId && !known.has(r.keyId)) {
      errors.push({ index, field: 'keyId', message: `keyId: no key '${r.keyId.slice(0, 64)}' in this workspace` });
      continue;
    }
    usage.record({
      workspaceId,
      keyId: r.keyId ?? null,
      source: 'service',
      method: r.method.toUpperCase(),
      route: r.route,
      status: r.status,
      latencyMs: r.latencyMs,
      code: r.code ?? null,
      at,
    });
    accepted++;
  }
  errors.sort((a, b) => a.index - b.index);
  return { accepted, rejected: errors.length, errors };
}
