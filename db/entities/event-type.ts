import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Workspace } from './workspace.js';

/**
 * A name events are published under. Built-in types (`key.rotated`…) have no workspace and are
 * written at start-up from the catalog in code (`core/events/catalog.ts`); a workspace registers
 * its own custom types beside them.
 */
export const EventType = defineEntity({
  name: 'EventType',
  tableName: 'event_type',
  uniques: [{ properties: ['workspace', 'name'] }],
  properties: {
    id: p.string().primary().length(40),
    /** Null for a built-in type, visible to every workspace. */
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade').nullable(),
    name: p.string().length(120),
    description: p.string().length(500).default(''),
    /** JSON Schema (draft 2020-12) of the payload: the catalog's for a built-in type, optional for a custom one. */
    schema: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IEventType = InferEntity<typeof EventType>;
