import { channel } from 'node:diagnostics_channel';

/**
 * What one webhook attempt tells the worker's metrics: outcome, HTTP status and times only, never
 * an id, a URL or a payload. Published through diagnostics_channel, so core/webhooks/attempt.ts
 * needs no metrics dependency threaded into it and pays nothing while nobody subscribes.
 */
export interface AttemptObservation {
  /** The delivery's status after this attempt: `retrying`, or a final one. */
  outcome: 'succeeded' | 'failed' | 'skipped' | 'paused' | 'retrying';
  /** 0 when no HTTP answer came back; undefined when no request was made (paused, skipped). */
  statusCode?: number;
  durationMs?: number;
  /** When the event was published: the delivery's lag is measured from it. */
  eventCreatedAt?: Date;
}

export const webhookAttempts = channel('gatehouse:webhook-attempt');

export function publishAttempt(observation: AttemptObservation): void {
  if (webhookAttempts.hasSubscribers) webhookAttempts.publish(observation);
}
