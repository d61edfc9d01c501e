import type { EntityManager } from '@mikro-orm/postgresql';
import { sendKeyChange } from '../keys/notify.js';

/**
 * OAuth changes travel on the key-change channel (core/keys/notify.ts), so the one LISTEN
 * connection every API process holds hears them, in commit order with key changes. A key's pk
 * never starts with this prefix.
 */
export const OAUTH_PREFIX = 'oauth:';
/** The signing keys changed (created, promoted, retired, unpublished, revoked): reload them. */
export const SIGNING_KEYS_CHANGED = `${OAUTH_PREFIX}signing-keys`;
/** A workspace's token lifetime or audiences changed. */
export const workspaceSettingsChanged = (workspaceId: string) => `${OAUTH_PREFIX}workspace:${workspaceId}`;

/** Inside the writing transaction: PostgreSQL delivers it on commit. */
export async function notifyOAuthChanged(em: EntityManager, payload: string): Promise<void> {
  await sendKeyChange(em, payload);
}
