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
  return status === 'succeeded' ? 'good' : status === 'failed' ? 'bad' : status === 'retrying' || status === 'skipped' || status === 'paused' ? 'warn' : '';
}

export type EndpointHealthState = Endpoint['health'];

/** Failing and disabled endpoints in red, paused in amber, healthy in green; no traffic is plain. */
export function healthTone(health: string): 'good' | 'warn' | 'bad' | '' {
  return health === 'healthy' ? 'good' : health === 'paused' ? 'warn' : health === 'failing' || health === 'disabled' ? 'bad' : '';
}

export function healthLabel(health: string): string {
  return health === 'no_traffic' ? 'no traffic' : health;
}

/** The delivery's workflow in the Temporal Web UI. */
export function workflowUrl(info: SystemInfo | null, workflowId: string): string | null {
  if (!info) return null;
  return `${info.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(info.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
