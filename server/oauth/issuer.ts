import type { Request } from 'express';
import type { Config } from '../../core/config.js';

/**
 * The authorization server's identifier (RFC 8414 §2): PUBLIC_URL when set, else the origin the
 * request came to, as portal links are built (server/portal-links.ts). It is the tokens' `iss`
 * and the base of every URL the metadata lists. Behind a proxy, set PUBLIC_URL: a Host header is
 * the client's to choose.
 */
export function issuerOf(config: Pick<Config, 'PUBLIC_URL'>, req: Request): string {
  const base = config.PUBLIC_URL ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
  return base.replace(/\/+$/, '');
}
