// Webhook, event, event-type and delivery routes, gathered so rest/index.ts lists them with one import.
import { deliveryRoutes } from './deliveries.js';
import { eventTypeRoutes } from './event-types.js';
import { eventRoutes } from './events.js';
import { webhookRoutes } from './webhooks.js';

export const webhookRestRoutes = [...webhookRoutes, ...eventRoutes, ...eventTypeRoutes, ...deliveryRoutes];
