import type { Outputs } from '../../lib/trpc.js';

export type Endpoint = Outputs['webhooks']['list'][number];
export type Delivery = Outputs['webhooks']['deliveries']['deliveries'][number];
export type Attempt = Delivery['attempts'][number];
export type EventType = Outputs['eventTypes']['list'][number];
export type EventItem = Outputs['events']['list']['events'][number];
export type Recovery = Outputs['webhooks']['recovery'];
export type SystemInfo = Outputs['system']['info'];

export function endpointTone(status: string): 'good' | 'warn' | 'bad' | '' {
  return status === 'active' ? 'good' : status === 'paused' ? 'warn' : status === 'disabled' ? 'bad' : '';
}

export function deliveryTone(status: string): 'good' | 'warn' | 'bad' | '' {
  return status === 'succeeded' ? 'good' : status === 'failed' ? 'bad' : status === 'retrying' || status === 'skipped' ? 'warn' : '';
}

/** Succeeded ÷ finished (succeeded or failed); null when nothing has finished yet. */
export function successRate(deliveries: { status: string }[]): number | null {
  const finished = deliveries.filter((d) => d.status === 'succeeded' || d.status === 'failed');
  if (finished.length === 0) return null;
  return finished.filter((d) => d.status === 'succeeded').length / finished.length;
}

/** The delivery's workflow in the Temporal Web UI. */
export function workflowUrl(info: SystemInfo | null, workflowId: string): string | null {
  if (!info) return null;
  return `${info.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(info.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
