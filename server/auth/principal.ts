import type { RateLimit } from '../../db/entities/api-key.js';
import type { IpAllowlist } from '../../core/keys/ip-allowlist.js';

/** Who is calling: resolved once per request from the x-api-key header (or, in the UI, a session). */
export interface Principal {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
  /** The calling key's own rate limits, enforced on Gatehouse's API too (UI sessions carry their key's). */
  rateLimits?: readonly RateLimit[];
  /** The key's IP allowlist; absent when it has none (every address may use it). */
  allowlist?: IpAllowlist;
  /**
   * Resolves the same secret or session again, as a new request would: undefined once the key is
   * revoked, disabled or expired, its secret retired, or the session closed. Long-lived calls
   * (logs.tail) use it, since a principal resolved once would otherwise outlive a revocation.
   */
  recheck?: () => Principal | undefined | Promise<Principal | undefined>;
  /**
   * Set when an operator views this workspace as its customer (server/auth/view-as.ts): the key is
   * the operator's, of `operatorWorkspaceId`; the scopes are the read-only preset. Usage and limits
   * are not the viewed customer's to pay for.
   */
  viewAs?: { operatorWorkspaceId: string };
  /**
   * Set on a customer-portal session (server/auth/portal-session.ts): the person a sign-in link
   * named. `keyId` is then `user:<id>` and no key stands behind the principal.
   */
  person?: { id: string; email: string; name: string; role: 'admin' | 'read-only'; returnUrl: string | null };
}
