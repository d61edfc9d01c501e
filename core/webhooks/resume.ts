import type { WebhookDeps } from './deps.js';
import { applyEndpointUpdate, type EndpointView } from './endpoints.js';

export interface ResumeResult {
  endpoint: EndpointView;
  /** Held deliveries released to be sent (deliverHeld) … */
  delivered: number;
  /** … or marked `skipped` (Recover can still send them later). */
  skipped: number;
}

/**
 * POST /webhooks/{id}/resume: the endpoint active again (a disabled one re-enabled), and the
 * deliveries held while it was paused sent now (the default) or skipped (core/webhooks/held.ts).
 */
export async function resumeEndpoint(deps: WebhookDeps, workspaceId: string, id: string, opts: { deliverHeld: boolean }, scopes?: ReadonlySet<string>): Promise<ResumeResult> {
  const { endpoint, released } = await applyEndpointUpdate(deps, workspaceId, id, { status: 'active', deliverHeld: opts.deliverHeld }, scopes);
  return { endpoint, delivered: opts.deliverHeld ? released : 0, skipped: opts.deliverHeld ? 0 : released };
}
