import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

export type EndpointStatus = 'active' | 'paused' | 'disabled';

/**
 * Where a workspace wants its events POSTed. The signing secrets are HMAC keys, so they must be
 * recoverable: they are stored AES-256-GCM encrypted (core/webhooks/secret-box.ts), never in clear.
 */
export const WebhookEndpoint = defineEntity({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoint',
  indexes: [{ properties: ['workspace', 'createdAt'] }],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    url: p.string().length(2048),
    description: p.string().length(500).default(''),
    /** Subscribed event type names; null means every type. */
    eventTypes: p.json<string[]>().nullable(),
    status: p.string().length(16).default('active'),
    /**
     * An operator's endpoint that receives the provider-level events of every workspace (each
     * payload names its workspace); lives in the operator's own workspace.
     */
    allWorkspaces: p.boolean().default(false),
    httpsOnly: p.boolean().default(false),
    secretCiphertext: p.text(),
    /** During a rotation's overlap the previous secret still signs, until its expiry. */
    previousSecretCiphertext: p.text().nullable(),
    previousSecretExpiresAt: p.datetime().nullable(),
    secretRotatedAt: p.datetime().nullable(),
    /** Numbers recoveries (`recover:<endpointId>:<n>`). */
    recoveryCount: p.integer().default(0),
    disabledReason: p.string().length(500).nullable(),
    disabledAt: p.datetime().nullable(),
    /** Start of the current unbroken run of failed attempts: the 5-day disable rule counts from it. */
    firstFailureAt: p.datetime().nullable(),
    lastTriggeredAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type IWebhookEndpoint = InferEntity<typeof WebhookEndpoint>;
