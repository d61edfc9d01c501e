import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { z } from 'zod';
import { badRequest, notFound } from '../errors.js';
import { typedDb } from '../../db/kysely.js';
import { closedObject } from '../keys/schema.js';
import { workspaceScope } from '../scope.js';
import { workspaceIdSchema } from '../workspaces.js';

/**
 * Customer-portal sign-in links (issue #13, item 1). The provider's backend, holding an operator
 * key, mints a link for one person of one workspace; the person's browser opens it once, before it
 * expires, and gets a UI session acting as that person with the role's preset. The link carries a
 * random token; only its SHA-256 is stored, as with keys and session tokens.
 */
export const PORTAL_ROLES = ['admin', 'read-only'] as const;
export type PortalRole = (typeof PORTAL_ROLES)[number];
export const DEFAULT_LINK_TTL_SECONDS = 300;
export const MAX_LINK_TTL_SECONDS = 600;
/** `user:<id>` is the actor id in audit and usage (128 characters there): the id leaves room for the prefix. */
export const MAX_USER_ID = 100;

export interface PortalPerson {
  id: string;
  email: string;
  name: string;
}

const token32 = /^[A-Za-z0-9_-]{43}$/;
export const hashLinkToken = (token: string) => createHash('sha256').update(token).digest('hex');

export const personSchema = closedObject({
  id: z.string({ error: 'expected a string' }).trim().min(1, 'required').max(MAX_USER_ID, `at most ${MAX_USER_ID} characters`).regex(/^[^\s\p{Cc}]+$/u, 'no whitespace or control characters'),
  email: z.email({ error: 'expected an email address' }).max(320),
  name: z.string({ error: 'expected a string' }).trim().min(1, 'required').max(200, 'at most 200 characters'),
});

export const roleSchema = z.enum(PORTAL_ROLES, { error: "expected 'admin' or 'read-only'" });
export const ttlSchema = z
  .number({ error: 'expected a whole number of seconds' })
  .int('expected a whole number of seconds')
  .min(1, 'at least 1 second')
  .max(MAX_LINK_TTL_SECONDS, `at most ${MAX_LINK_TTL_SECONDS} seconds (10 minutes)`);
export const returnUrlSchema = z.string({ error: 'expected a URL' }).max(2048, 'at most 2048 characters');
export const linkWorkspaceSchema = workspaceIdSchema;
/** A person's id as `DELETE /portal/sessions?user_id=` takes it. */
export const userIdSchema = personSchema.shape.id;

export interface MintInput {
  workspaceId: string;
  user: PortalPerson;
  role: PortalRole;
  returnUrl?: string;
  ttlSeconds?: number;
}

/** The comma list of GATEHOUSE_PORTAL_RETURN_ORIGINS as origins (`https://app.example.com`). */
export function returnOrigins(setting: string): Set<string> {
  return new Set(
    setting
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => new URL(s).origin),
  );
}

/** A return URL only to an allowed origin, over http(s): anything else would make the link an open redirect. */
export function checkReturnUrl(url: string, allowed: ReadonlySet<string>): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('return_url: expected an absolute URL', 'return_url');
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.username || parsed.password) {
    throw badRequest('return_url: expected an http(s) URL without credentials', 'return_url');
  }
  if (!allowed.has(parsed.origin)) {
    throw badRequest(`return_url: origin ${parsed.origin} is not in GATEHOUSE_PORTAL_RETURN_ORIGINS`, 'return_url');
  }
  return parsed.href;
}

export interface MintedLink {
  token: string;
  expiresAt: Date;
}

export async function mintLink(em: EntityManager, createdBy: string, input: MintInput): Promise<MintedLink> {
  const ttl = input.ttlSeconds ?? DEFAULT_LINK_TTL_SECONDS;
  const ws = await typedDb(em).selectFrom('workspace').select('id').where('id', '=', input.workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace', input.workspaceId);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttl * 1000);
  const scope = workspaceScope(em, input.workspaceId);
  // Spent and expired links are useless; minting is rare enough to sweep them here.
  await scope.deleteFrom('portal_link').where('expires_at', '<', sql<Date>`now() - interval '1 day'`).where((eb) => eb.not(eb.exists(eb.selectFrom('ui_session').select('token_hash').whereRef('ui_session.portal_link_token_hash', '=', 'portal_link.token_hash')))).execute();
  await scope
    .insertInto('portal_link', {
      token_hash: hashLinkToken(token),
      user_id: input.user.id,
      user_email: input.user.email,
      user_name: input.user.name,
      role: input.role,
      return_url: input.returnUrl ?? null,
      created_by: createdBy,
      created_at: sql<Date>`now()`,
      expires_at: expiresAt,
    })
    .execute();
  return { token, expiresAt };
}

export type Redeemed =
  | { ok: true; tokenHash: string; workspaceId: string; returnUrl: string | null }
  | { ok: false; reason: 'forged' | 'used' | 'expired' };

/**
 * Spends a link: at most one caller ever gets `ok` for a token (one conditional UPDATE), and only
 * before it expires. A refusal says which of the three it was, for the 401 page.
 */
export async function redeemLink(em: EntityManager, token: string): Promise<Redeemed> {
  if (!token32.test(token)) return { ok: false, reason: 'forged' };
  const hash = hashLinkToken(token);
  const db = typedDb(em);
  const spent = await db
    .updateTable('portal_link')
    .set({ used_at: sql<Date>`now()` })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['token_hash', 'workspace_id', 'return_url'])
    .executeTakeFirst();
  if (spent) return { ok: true, tokenHash: spent.token_hash, workspaceId: spent.workspace_id, returnUrl: spent.return_url };
  const row = await db.selectFrom('portal_link').select(['used_at']).where('token_hash', '=', hash).executeTakeFirst();
  if (!row) return { ok: false, reason: 'forged' };
  return { ok: false, reason: row.used_at ? 'used' : 'expired' };
}

/** Ends every portal session of a person (optionally in one workspace), and voids their unopened links. */
export async function revokePerson(em: EntityManager, userId: string, workspaceId?: string): Promise<{ revoked: number }> {
  return em.transactional(async (tx) => {
    const db = typedDb(tx);
    let links = db.selectFrom('portal_link').select('token_hash').where('user_id', '=', userId);
    if (workspaceId !== undefined) links = links.where('workspace_id', '=', workspaceId);
    const result = await db.deleteFrom('ui_session').where('portal_link_token_hash', 'in', links).executeTakeFirst();
    let unopened = db.updateTable('portal_link').set({ used_at: sql<Date>`now()` }).where('user_id', '=', userId).where('used_at', 'is', null);
    if (workspaceId !== undefined) unopened = unopened.where('workspace_id', '=', workspaceId);
    await unopened.execute();
    return { revoked: Number(result.numDeletedRows) };
  });
}
