// Webhook entities, gathered so db/entities/index.ts lists them with one import.
import { EventType } from './event-type.js';
import { InstallKey } from './install-key.js';
import { WebhookAttempt } from './webhook-attempt.js';
import { WebhookDelivery } from './webhook-delivery.js';
import { WebhookEndpoint } from './webhook-endpoint.js';

export { EventType, InstallKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint };
export type { IEventType } from './event-type.js';
export type { IInstallKey } from './install-key.js';
export type { IWebhookAttempt } from './webhook-attempt.js';
export type { DeliveryStatus, IWebhookDelivery } from './webhook-delivery.js';
export type { EndpointStatus, IWebhookEndpoint } from './webhook-endpoint.js';

export const webhookEntities = [EventType, InstallKey, WebhookEndpoint, WebhookDelivery, WebhookAttempt];
