import { z } from 'zod';
import { createWorkspace, keyPrefixSchema, listWorkspaces, workspaceIdSchema } from '../../core/workspaces.js';
import { closedObject, listLimitSchema } from '../../core/keys/schema.js';
import { actorOf, keyDeps } from '../actor.js';
import { snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const WorkspaceBody = z
  .object({
    id: z.string().meta({ example: 'trebol' }),
    name: z.string().meta({ example: 'Trebol' }),
    key_prefix: z.string().meta({ example: 'treb' }),
    created_at: z.string().meta({ format: 'date-time', example: '2024-01-15T10:30:00.000Z' }),
    active_keys: z.number().int().meta({ description: 'Keys not revoked.' }),
  })
  .meta({ id: 'Workspace' });

export const createWorkspaceRoute = defineRoute({
  method: 'post',
  path: '/workspaces',
  summary: 'Create a workspace (operators only); the answer holds its first admin key, shown this once',
  tags: ['workspaces'],
  scope: 'operator',
  status: 201,
  errors: [409],
  body: closedObject({
      id: workspaceIdSchema,
      name: z.string({ error: 'expected a string' }).trim().min(1, 'must not be empty').max(200, 'at most 200 characters').meta({ example: 'Trebol' }),
      key_prefix: keyPrefixSchema.optional().meta({ description: 'Start of the secrets it issues (default `gate`).' }),
    })
    .meta({ id: 'CreateWorkspace', example: { id: 'trebol', name: 'Trebol', key_prefix: 'treb' } }),
  response: WorkspaceBody.extend({
    admin_key: z
      .object({
        id: z.string().meta({ example: 'admin' }),
        api_key: z.string().meta({ description: 'The admin secret: shown in this response only.', example: 'treb_sk_live_4fZ8kQ2mN7pR1sT5vW9xY3Ab12CdE' }),
        created_at: z.string().meta({ format: 'date-time' }),
        permissions: z.array(z.string()).meta({ example: ['admin'] }),
      })
      .meta({ description: 'Admin preset, without `operator`: the workspace’s admin cannot reach other workspaces.' }),
  }).meta({ id: 'CreatedWorkspace' }),
  handler: async ({ ctx, body }) => {
    const { workspace, adminKey } = await createWorkspace(keyDeps(ctx), actorOf(ctx), { id: body.id, name: body.name, keyPrefix: body.key_prefix });
    return {
      ...snakeKeys(workspace),
      // `secret` is named `api_key` on the wire, as in every answer that shows a new secret.
      admin_key: snakeKeys({ id: adminKey.id, apiKey: adminKey.secret, createdAt: adminKey.createdAt, permissions: adminKey.permissions }),
    };
  },
});

export const listWorkspacesRoute = defineRoute({
  method: 'get',
  path: '/workspaces',
  summary: 'Every workspace, newest first (operators only)',
  tags: ['workspaces'],
  scope: 'operator',
  query: closedObject({
    limit: listLimitSchema.optional().meta({ description: 'Page size, 1-500 (default 100).' }),
    cursor: z.string().max(400).optional().meta({ description: '`next_cursor` of the previous page.' }),
  }),
  response: z.object({ workspaces: z.array(WorkspaceBody), next_cursor: z.string().nullable() }),
  handler: async ({ ctx, query }) => {
    const page = await listWorkspaces(ctx.em, query);
    return { workspaces: page.workspaces.map(snakeKeys), next_cursor: page.nextCursor };
  },
});

export const workspaceRoutes = [createWorkspaceRoute, listWorkspacesRoute];
