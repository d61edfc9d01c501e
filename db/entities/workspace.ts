import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const Workspace = defineEntity({
  name: 'Workspace',
  tableName: 'workspace',
  properties: {
    id: p.string().primary().length(64),
    name: p.string().length(200),
    /** Start of every secret this workspace issues, e.g. `gate` in `gate_sk_live_…`. */
    keyPrefix: p.string().length(16).default('gate'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IWorkspace = InferEntity<typeof Workspace>;
