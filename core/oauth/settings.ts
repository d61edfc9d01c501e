import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { recordAudit, type AuditActor } from '../audit.js';
import { notFound } from '../errors.js';
import { closedObject } from '../keys/schema.js';
import { typedDb, json } from '../../db/kysely.js';
import type { WorkspaceOAuth } from './cache.js';
import { notifyOAuthChanged, workspaceSettingsChanged } from './notify.js';
import { MAX_TOKEN_TTL_SECONDS } from './signing-keys.js';

/** One second at least, so a test (or a cautious provider) can watch tokens expire. */
export const MIN_TOKEN_TTL_SECONDS = 1;
export const MAX_AUDIENCES = 20;

export const tokenTtlSchema = z
  .number({ error: 'expected an integer number of seconds' })
  .int('expected an integer number of seconds')
  .min(MIN_TOKEN_TTL_SECONDS, `expected at least ${MIN_TOKEN_TTL_SECONDS}`)
  .max(MAX_TOKEN_TTL_SECONDS, `expected at most ${MAX_TOKEN_TTL_SECONDS} (24 h)`)
  .meta({ description: 'Lifetime of the access tokens its keys obtain, in seconds (default 900, at most 86400).', example: 900 });

/** An audience is what a token names in `aud`: a URI (RFC 8707 asks for an absolute one) or a plain service name. */
export const audienceSchema = z
  .string({ error: 'expected a string' })
  .min(1, 'expected a non-empty audience')
  .max(256, 'at most 256 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII, no spaces')
  .meta({ example: 'https://api.example.com' });

export const audiencesSchema = z
  .array(audienceSchema)
  .max(MAX_AUDIENCES, `at most ${MAX_AUDIENCES} audiences`)
  .refine((a) => new Set(a).size === a.length, 'each audience once')
  .meta({ description: 'Audiences a token request may name (`audience` or `resource`); the first is the default. Empty: tokens name the issuer.' });

export const updateOAuthSettingsInput = closedObject({
  tokenTtlSeconds: tokenTtlSchema.optional(),
  audiences: audiencesSchema.optional(),
});
export type UpdateOAuthSettingsInput = z.output<typeof updateOAuthSettingsInput>;

export async function loadWorkspaceOAuth(em: EntityManager, workspaceId: string): Promise<WorkspaceOAuth> {
  const row = await typedDb(em)
    .selectFrom('workspace')
    .select(['oauth_token_ttl_seconds', 'oauth_audiences'])
    .where('id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) throw notFound('Workspace', workspaceId);
  return { tokenTtlSeconds: row.oauth_token_ttl_seconds, audiences: Array.isArray(row.oauth_audiences) ? row.oauth_audiences : [] };
}

/** Changes a workspace's token settings; every API process hears it before the next token. */
export async function updateWorkspaceOAuth(em: EntityManager, actor: AuditActor, workspaceId: string, input: UpdateOAuthSettingsInput): Promise<WorkspaceOAuth> {
  return em.transactional(async (tx) => {
    const db = typedDb(tx);
    const set = {
      ...(input.tokenTtlSeconds !== undefined ? { oauth_token_ttl_seconds: input.tokenTtlSeconds } : {}),
      ...(input.audiences !== undefined ? { oauth_audiences: json(input.audiences) } : {}),
    };
    if (Object.keys(set).length > 0) {
      const updated = await db.updateTable('workspace').set(set).where('id', '=', workspaceId).returning('id').executeTakeFirst();
      if (!updated) throw notFound('Workspace', workspaceId);
      await recordAudit(tx, actor, {
        workspaceId,
        action: 'workspace.oauth_updated',
        targetType: 'workspace',
        targetId: workspaceId,
        changes: {
          ...(input.tokenTtlSeconds !== undefined ? { oauth_token_ttl_seconds: input.tokenTtlSeconds } : {}),
          ...(input.audiences !== undefined ? { oauth_audiences: input.audiences } : {}),
        },
      });
      await notifyOAuthChanged(tx, workspaceSettingsChanged(workspaceId));
    }
    return loadWorkspaceOAuth(tx, workspaceId);
  });
}
