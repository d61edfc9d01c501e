import { z } from 'zod';
import { listAudit } from '../../core/audit.js';
import { closedObject, keyIdSchema, listLimitSchema } from '../../core/keys/schema.js';
import { camelKeys, snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const dateTime = (description: string) =>
  z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 date-time such as 2024-01-15T10:30:00Z' })
    .transform((s) => new Date(s))
    .meta({ description, example: '2024-01-15T00:00:00Z' });

export const AuditEntryBody = z
  .object({
    id: z.string().meta({ example: 'aud_3f9a0c1b2d4e5f60718293a4' }),
    action: z.string().meta({ description: '`key.created`, `key.updated`, `key.revoked`, `key.deleted`, `key.rotated`, `workspace.created`…', example: 'key.updated' }),
    target_type: z.string().meta({ example: 'api_key' }),
    target_id: z.string().meta({ example: 'api-key-produccion-2024' }),
    actor_key_id: z.string().nullable().meta({ description: 'The key that made the change; null for Gatehouse itself.', example: 'admin' }),
    actor_workspace_id: z.string().nullable().meta({ description: 'The acting key’s workspace (an operator’s may differ).' }),
    actor_email: z.string().nullable().meta({ description: 'The person’s email when a customer-portal session acted (`actor_key_id` is then `user:<id>`); otherwise null.' }),
    ip: z.string().meta({ description: 'Client address of the request.', example: '203.0.113.7' }),
    changes: z.record(z.string(), z.unknown()).meta({
      description: 'Fields set (on create) or `{ field: { from, to } }` (on update). Never a secret.',
      example: { enabled: { from: true, to: false } },
    }),
    created_at: z.string().meta({ format: 'date-time', example: '2024-01-15T10:30:00.000Z' }),
  })
  .meta({ id: 'AuditEntry' });

export const listAuditRoute = defineRoute({
  method: 'get',
  path: '/audit-log',
  summary: 'Audit log of your workspace, newest first: who changed which key, when and from where',
  tags: ['audit'],
  scope: 'audit:read',
  query: closedObject({
    key_id: keyIdSchema.optional().meta({ description: 'Only entries about this API key (deleted keys too).' }),
    action: z.string().max(64).optional().meta({ example: 'key.revoked' }),
    since: dateTime('Entries at or after this time.').optional(),
    until: dateTime('Entries before this time.').optional(),
    limit: listLimitSchema.optional().meta({ description: 'Page size, 1-500 (default 50).' }),
    cursor: z.string().max(400).optional().meta({ description: '`next_cursor` of the previous page.' }),
  }),
  response: z.object({ entries: z.array(AuditEntryBody), next_cursor: z.string().nullable() }),
  handler: async ({ ctx, query }) => {
    const page = await listAudit(ctx.em, ctx.principal.workspaceId, camelKeys(query));
    return {
      // The workspace is the caller's own: not repeated in each entry.
      entries: page.entries.map(({ workspaceId: _workspaceId, ...entry }) => snakeKeys({ ...entry, actorEmail: entry.actorEmail ?? null })),
      next_cursor: page.nextCursor,
    };
  },
});

export const auditRoutes = [listAuditRoute];
