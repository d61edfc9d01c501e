import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

/**
 * An event (message): published by a customer's system or raised by Gatehouse itself
 * (`key.rotated`, `usage.rate_limit.exceeded`…). The row is the outbox: it is written first,
 * delivery to endpoints follows from it.
 */
export const Event = defineEntity({
  name: 'Event',
  tableName: 'event',
  uniques: [{ properties: ['workspace', 'idempotencyKey'] }],
  indexes: [
    { properties: ['workspace', 'createdAt'] },
    // Events whose fan-out has not started: the outbox sweeper and the backlog gauge read only these,
    // a handful at any time, out of a table that grows with every event.
    { name: 'event_undispatched_index', properties: ['createdAt'], where: '"dispatched_at" is null' },
  ],
  properties: {
    id: p.string().primary().length(40),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    type: p.string().length(120),
    payload: p.json<Record<string, unknown>>(),
    idempotencyKey: p.string().length(200).nullable(),
    /** `api` when a customer published it, `gatehouse` when Gatehouse raised it. */
    source: p.string().length(16).default('api'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Set once fan-out to the subscribed endpoints has been started. */
    dispatchedAt: p.datetime().nullable(),
  },
});
export type IEvent = InferEntity<typeof Event>;
