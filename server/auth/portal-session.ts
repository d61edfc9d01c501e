import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';
import { expandPermissions, PRESETS } from '../../core/permissions.js';
import type { PortalRole } from '../../core/portal/links.js';
import type { Principal } from './principal.js';
import { SESSION_TTL_MS, type ActiveSession, type OpenedSession } from './session.js';

/**
 * Customer-portal sessions: UI sessions opened by a sign-in link rather than a key. The row names
 * the link (ui_session.portal_link_token_hash), whose person, workspace and role the session acts
 * as. The principal's key id is `user:<id>`, so the audit log, the request log and `session.me`
 * name the person; its scopes are the role's preset, never `operator`.
 */
const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const now = sql<Date>`now()`;

export const personActorId = (userId: string) => `user:${userId}`;

export async function openPortalSession(em: EntityManager, linkTokenHash: string): Promise<OpenedSession> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  const db = typedDb(em);
  await db.deleteFrom('ui_session').where('expires_at', '<', now).execute();
  await db.insertInto('ui_session').values({ token_hash: hash(token), portal_link_token_hash: linkTokenHash, created_at: now, expires_at: expiresAt }).execute();
  return { token, expiresAt };
}

/** The portal session behind a session token, or undefined (a key session, or none). */
export async function findPortalSession(em: EntityManager, token: string): Promise<ActiveSession | undefined> {
  const row = await typedDb(em)
    .selectFrom('ui_session')
    .innerJoin('portal_link', 'portal_link.token_hash', 'ui_session.portal_link_token_hash')
    .select(['portal_link.workspace_id', 'portal_link.user_id', 'portal_link.user_email', 'portal_link.user_name', 'portal_link.role', 'portal_link.return_url', 'ui_session.expires_at'])
    .where('ui_session.token_hash', '=', hash(token))
    .where('ui_session.expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  const role: PortalRole = row.role === 'admin' ? 'admin' : 'read-only';
  const actor = personActorId(row.user_id);
  const principal: Principal = {
    workspaceId: row.workspace_id,
    // No key: the person's actor id stands in, and matches no key's pk.
    keyPk: actor,
    keyId: actor,
    scopes: new Set(expandPermissions([...PRESETS[role]])),
    person: { id: row.user_id, email: row.user_email, name: row.user_name, role, returnUrl: row.return_url },
    recheck: async () => (await findPortalSession(em.fork() as EntityManager, token))?.principal,
  };
  return { principal, expiresAt: new Date(row.expires_at) };
}
