import type { Request } from 'express';
import type { Config } from '../../core/config.js';

/**
 * The authorization server's identifier (RFC 8414 §2): PUBLIC_URL when set, else the origin the
 * request came to, as portal links are built (server/portal-links.ts). It is the tokens' `iss`
 * and the base of every URL the metadata lists. Behind a proxy, set PUBLIC_URL: a Host header is
 * the client's to choose.
 */
export function issuerOf(config: Pick<Config, 'PUBLIC_URL'>, req: Pick<Request, 'protocol' | 'get'>): string {
  return issuerAt(config, req.protocol, req.get('host'));
}

export function issuerAt(config: Pick<Config, 'PUBLIC_URL'>, protocol: string, host: string | undefined): string {
  const base = config.PUBLIC_URL ?? `${protocol}://${host ?? 'localhost'}`;
  return base.replace(/\/+$/, '');
}
