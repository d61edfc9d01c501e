import { HttpError } from '../errors.js';
import { raiseEvent, type RaisedEvent } from '../events.js';
import { workspaceScope } from '../scope.js';
import type { WebhookDeps } from './deps.js';
import { assertActive, findEndpoint } from './endpoints.js';
import { TEST_EVENT_TYPE } from './event-types.js';

/** Sends a `webhook.test` event to this endpoint only; it is a real event with a real delivery to inspect. */
export async function sendTestEvent(deps: WebhookDeps, workspaceId: string, endpointId: string): Promise<{ event: RaisedEvent; deliveryId: string; workflowId: string }> {
  const endpoint = await findEndpoint(deps, workspaceId, endpointId);
  assertActive(endpoint);
  const event = await raiseEvent(deps, {
    workspaceId,
    type: TEST_EVENT_TYPE,
    source: 'gatehouse',
    onlyEndpointId: endpointId,
    payload: { message: 'A test event from Gatehouse', endpoint_id: endpointId, sent_at: new Date().toISOString() },
  });
  const delivery = await workspaceScope(deps.em, workspaceId)
    .selectFrom('webhook_delivery')
    .select(['id', 'workflow_id'])
    .where('event_id', '=', event.id)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirstOrThrow(() => new HttpError(409, 'conflict', `Webhook endpoint '${endpointId}' stopped being active; nothing was sent`));
  return { event, deliveryId: delivery.id, workflowId: delivery.workflow_id };
}
