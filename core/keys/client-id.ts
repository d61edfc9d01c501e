import { randomBytes } from 'node:crypto';

/**
 * A key's OAuth client id: public (it names the key at the token endpoint, like a username), so it
 * is random rather than derived from the key's id, which is the workspace's choice and not unique
 * across workspaces. Same format as the migration's backfill of keys made before OAuth.
 */
export function newClientId(): string {
  return `ci_${randomBytes(16).toString('hex')}`;
}
