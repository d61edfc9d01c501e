import { z } from 'zod';
import { closedObject } from '../../core/keys/schema.js';
import { linkWorkspaceSchema, personSchema, returnUrlSchema, revokePerson, roleSchema, ttlSchema, userIdSchema } from '../../core/portal/links.js';
import { createPortalLink } from '../portal-links.js';
import { defineRoute } from './route.js';

const TAGS = ['portal'];

const CreatePortalSessionBody = closedObject({
  workspace_id: linkWorkspaceSchema,
  user: personSchema.meta({ description: "The person, in the provider's own words: `user:<id>` is their actor id in the audit log." }),
  role: roleSchema.meta({ description: '`admin` (the admin preset) or `read-only`.' }),
  return_url: returnUrlSchema.optional().meta({ description: 'Where the portal sends the person back; only to an origin in GATEHOUSE_PORTAL_RETURN_ORIGINS.' }),
  ttl_seconds: ttlSchema.optional().meta({ description: 'How long the link may be opened: default 300, at most 600.' }),
}).meta({
  id: 'CreatePortalSession',
  example: { workspace_id: 'trebol', user: { id: 'u_123', email: 'ana@trebol.example', name: 'Ana Ruiz' }, role: 'admin', ttl_seconds: 300 },
});

export const createPortalSessionRoute = defineRoute({
  method: 'post',
  path: '/portal/sessions',
  summary: 'A single-use customer-portal sign-in link for one person of a workspace (operators only)',
  tags: TAGS,
  scope: 'operator',
  status: 201,
  body: CreatePortalSessionBody,
  response: z.object({ url: z.string().meta({ description: 'Open it in the person’s browser: it signs them in and lands on the dashboard.' }), expires_at: z.string().meta({ format: 'date-time' }) }),
  handler: async ({ ctx, body, req }) => {
    const link = await createPortalLink(ctx, req, {
      workspaceId: body.workspace_id,
      user: body.user,
      role: body.role,
      returnUrl: body.return_url,
      ttlSeconds: body.ttl_seconds,
    });
    return { url: link.url, expires_at: link.expiresAt };
  },
});

export const revokePortalSessionsRoute = defineRoute({
  method: 'delete',
  path: '/portal/sessions',
  summary: "End every customer-portal session of a person, and void their unopened links (operators only)",
  tags: TAGS,
  scope: 'operator',
  query: closedObject({ user_id: userIdSchema, workspace_id: linkWorkspaceSchema.optional().meta({ description: 'Only that workspace’s sessions.' }) }),
  response: z.object({ revoked: z.number().int().meta({ description: 'Sessions ended.' }) }),
  handler: async ({ ctx, query }) => revokePerson(ctx.em, query.user_id, query.workspace_id),
});

export const portalRoutes = [createPortalSessionRoute, revokePortalSessionsRoute];
