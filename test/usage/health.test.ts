import { describe, expect, it } from 'vitest';
import { healthParts, healthScore } from '../../core/usage/health.js';
import { bucketOf, LATENCY_BOUNDS_MS, quantileFromHistogram } from '../../core/usage/histogram.js';
import { summarise } from '../../core/usage/queries.js';

describe('health score (docs/usage.md)', () => {
  it('matches the worked examples', () => {
    expect(healthScore({ calls: 1000, errorRate: 0.003, p95LatencyMs: 120, webhookSuccessRate: 1 })).toBe(99);
    expect(healthScore({ calls: 1000, errorRate: 0.02, p95LatencyMs: 600, webhookSuccessRate: 0.9 })).toBe(73);
  });

  it('is 100 with no calls and no deliveries; errors alone take away at most half', () => {
    expect(healthScore({ calls: 0, errorRate: 0, p95LatencyMs: 0, webhookSuccessRate: null })).toBe(100);
    // 50 % errors: the error part is 0; latency and webhooks still count.
    expect(healthScore({ calls: 10, errorRate: 0.5, p95LatencyMs: 100, webhookSuccessRate: null })).toBe(50);
    expect(healthScore({ calls: 10, errorRate: 1, p95LatencyMs: 30_000, webhookSuccessRate: 0 })).toBe(0);
  });

  it('lets failed webhook deliveries lower the score of a summary', () => {
    const t = { calls: 100, errors4xx: 0, errors5xx: 0, latencySum: 1000, latencyMax: 20, hist: [0, 0, 0, 100] };
    expect(summarise(t, null).healthScore).toBe(100);
    expect(summarise(t, 0.5).healthScore).toBe(90);
    expect(summarise(t, 0.5).healthParts).toEqual({ errors: 100, latency: 100, webhooks: 50 });
  });

  it('gives the parts the dashboard explains the score with: round(40 + 15 + 18) = 73', () => {
    expect(healthParts({ calls: 1000, errorRate: 0.02, p95LatencyMs: 600, webhookSuccessRate: 0.9 })).toEqual({ errors: 80, latency: 50, webhooks: 90 });
  });
});

describe('latency histogram', () => {
  it('puts a latency in the first bucket whose bound it does not exceed', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(1)).toBe(0);
    expect(bucketOf(1.01)).toBe(1);
    expect(bucketOf(100)).toBe(LATENCY_BOUNDS_MS.indexOf(100));
    expect(bucketOf(10_001)).toBe(LATENCY_BOUNDS_MS.length);
  });

  it('reports p95 as the bound of the bucket holding the ceil(0.95 n)-th call, capped by the slowest', () => {
    const hist = new Array(15).fill(0);
    hist[bucketOf(40)] = 18;
    hist[bucketOf(180)] = 1;
    hist[bucketOf(900)] = 1;
    expect(quantileFromHistogram(hist, 0.95, 900)).toBe(200);
    expect(quantileFromHistogram(hist, 1, 900)).toBe(900);
    expect(quantileFromHistogram(new Array(15).fill(0), 0.95, 0)).toBe(0);
  });
});
