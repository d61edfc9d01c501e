import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Usage, VerificationOutcome } from '../usage/index.js';
import type { UsageRecorder } from '../usage/recorder.js';

/** Which limit refused a verification, in bounded terms: never a key, a workspace or a limit's name. */
function refusal(r: VerificationOutcome): { scope: 'key' | 'workspace'; kind: 'rate_limit' | 'quota' | 'credits' } | undefined {
  if (r.code === 'RATE_LIMITED') return { scope: r.ratelimit?.scope ?? 'key', kind: 'rate_limit' };
  // core/keys/verify.ts: a key's credits refuse with its balance; the workspace's monthly quota without.
  if (r.code === 'USAGE_EXCEEDED') return r.credits !== null ? { scope: 'key', kind: 'credits' } : { scope: 'workspace', kind: 'quota' };
  return undefined;
}

/**
 * The usage pipeline with every verification answer counted: REST's and tRPC's verify both hand
 * their answer to `usage.verification`, so this is the one place every answer passes.
 */
export function countVerifications(usage: Usage, registry: Registry): Usage {
  // Counted in a plain map and handed to the counter when Prometheus scrapes: prom-client's inc()
  // hashes its labels on every call, on the verify path's every request.
  const answered = new Map<string, number>();
  new Counter({
    name: 'gatehouse_verifications_total',
    help: 'Key verifications answered, by code (VALID, NOT_FOUND, RATE_LIMITED...)',
    labelNames: ['code'] as const,
    registers: [registry],
    collect() {
      for (const [code, n] of answered) this.inc({ code }, n);
      answered.clear();
    },
  });
  const refusals = new Counter({
    name: 'gatehouse_limit_refusals_total',
    help: 'Verifications refused by a limit: scope key|workspace, kind rate_limit|quota|credits',
    labelNames: ['scope', 'kind'] as const,
    registers: [registry],
  });
  return {
    ...usage,
    verification: (workspaceId, result, opts) => {
      answered.set(result.code, (answered.get(result.code) ?? 0) + 1);
      const r = refusal(result);
      if (r) refusals.inc(r);
      usage.verification(workspaceId, result, opts);
    },
  };
}

/** The recorder's own figures, read when Prometheus scrapes rather than counted twice. */
export function observeRecorder(recorder: UsageRecorder, registry: Registry): void {
  new Gauge({
    name: 'gatehouse_usage_buffered_records',
    help: 'Usage records waiting in this process or being written (lost if it is killed)',
    registers: [registry],
    collect() {
      this.set(recorder.buffered);
    },
  });
  new Counter({
    name: 'gatehouse_usage_records_written_total',
    help: 'Usage records committed to PostgreSQL by this process',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(recorder.stats.written);
    },
  });
  new Counter({
    name: 'gatehouse_usage_records_dropped_total',
    help: 'Usage records dropped (buffer full, or a failed batch with no room to put back)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(recorder.stats.dropped);
    },
  });
  const flush = new Histogram({
    name: 'gatehouse_usage_flush_duration_seconds',
    help: 'Time to write one usage batch (COPY plus rollups, one transaction), by result',
    labelNames: ['result'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  recorder.onBatchWritten = (ms, ok) => flush.observe({ result: ok ? 'ok' : 'error' }, ms / 1000);
}
