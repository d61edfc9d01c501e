import type { RateLimit } from '../../db/entities/api-key.js';

/** Who is calling: resolved once per request from the x-api-key header (or, in the UI, a session). */
export interface Principal {
  workspaceId: string;
  keyPk: string;
  keyId: string;
  scopes: ReadonlySet<string>;
  /** The calling key's own rate limits, enforced on Gatehouse's API too (absent for UI sessions). */
  rateLimits?: readonly RateLimit[];
}
