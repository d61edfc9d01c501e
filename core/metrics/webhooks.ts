import { Counter, Histogram, type Registry } from 'prom-client';
import { webhookAttempts, type AttemptObservation } from './channels.js';

/** `2xx`…`5xx`, or `none` when no HTTP answer came back (refused address, DNS, connect, timeout). */
function statusClass(code: number): string {
  return code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'none';
}

/** Webhook attempt series of this worker process; returns the unsubscribe for shutdown. */
export function observeWebhookAttempts(registry: Registry): () => void {
  const deliveries = new Counter({
    name: 'gatehouse_webhook_deliveries_total',
    help: 'Deliveries that reached a final status in this worker: succeeded, failed, skipped, paused',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const attempts = new Histogram({
    name: 'gatehouse_webhook_attempt_duration_seconds',
    help: "One delivery attempt's outgoing POST, by the answer's status class (none: no answer)",
    labelNames: ['status_class'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'gatehouse_webhook_delivery_lag_seconds',
    help: 'From an event being published to its successful delivery to an endpoint (retries included)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400],
    registers: [registry],
  });
  const onAttempt = (message: unknown) => {
    const a = message as AttemptObservation;
    if (a.statusCode !== undefined) attempts.observe({ status_class: statusClass(a.statusCode) }, (a.durationMs ?? 0) / 1000);
    if (a.outcome !== 'retrying') deliveries.inc({ status: a.outcome });
    if (a.outcome === 'succeeded' && a.eventCreatedAt) lag.observe(Math.max(0, Date.now() - a.eventCreatedAt.getTime()) / 1000);
  };
  webhookAttempts.subscribe(onAttempt);
  return () => webhookAttempts.unsubscribe(onAttempt);
}
