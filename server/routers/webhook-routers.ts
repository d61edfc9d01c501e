// The webhook resources' routers, gathered so _app.ts merges them with one import and one line.
import { deliveriesRouter } from './deliveries.js';
import { eventTypesRouter } from './event-types.js';
import { eventsRouter } from './events.js';
import { webhooksRouter } from './webhooks.js';

export const webhookRouters = {
  webhooks: webhooksRouter,
  events: eventsRouter,
  eventTypes: eventTypesRouter,
  deliveries: deliveriesRouter,
};
