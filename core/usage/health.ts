/** The latency a healthy API answers within at the 95th percentile; slower costs points. */
export const LATENCY_TARGET_MS = 300;
/** At this error rate (10 %) the error component reaches 0. */
export const ERROR_RATE_FLOOR = 0.1;
export const WEIGHTS = { errors: 0.5, latency: 0.3, webhooks: 0.2 } as const;

export interface HealthInputs {
  calls: number;
  /** (4xx + 5xx) / calls. */
  errorRate: number;
  p95LatencyMs: number;
  /** Succeeded / finished webhook deliveries; null when there were none (counts as 100 %). */
  webhookSuccessRate: number | null;
}

/**
 * 0–100, documented in docs/usage.md:
 *   errors   = 100 × max(0, 1 − error_rate / 0.10)
 *   latency  = 100 × min(1, 300 ms / p95)            (100 with no calls)
 *   webhooks = 100 × delivery success rate            (100 with no deliveries)
 *   health   = round(0.5 × errors + 0.3 × latency + 0.2 × webhooks)
 */
export function healthScore(h: HealthInputs): number {
  const p = unrounded(h);
  return Math.round(WEIGHTS.errors * p.errors + WEIGHTS.latency * p.latency + WEIGHTS.webhooks * p.webhooks);
}

/** The three components, each 0–100 before weighting: what the dashboard's legend shows the score is made of. */
export interface HealthParts {
  errors: number;
  latency: number;
  webhooks: number;
}

export function healthParts(h: HealthInputs): HealthParts {
  const p = unrounded(h);
  return { errors: Math.round(p.errors), latency: Math.round(p.latency), webhooks: Math.round(p.webhooks) };
}

function unrounded(h: HealthInputs): HealthParts {
  return {
    errors: 100 * Math.max(0, 1 - h.errorRate / ERROR_RATE_FLOOR),
    latency: h.calls === 0 || h.p95LatencyMs <= 0 ? 100 : 100 * Math.min(1, LATENCY_TARGET_MS / h.p95LatencyMs),
    webhooks: 100 * (h.webhookSuccessRate ?? 1),
  };
}
