import type { Registry } from 'prom-client';
import { hashSecret, safeEqualHex } from '../keys/secret.js';

export interface ScrapeAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The answer to `GET /metrics`: 401 without `Authorization: Bearer <GATEHOUSE_METRICS_TOKEN>` when
 * a token is set. Both sides are hashed before the constant-time comparison, so neither the
 * token's value nor its length leaks through timing.
 */
export async function scrape(registry: Registry, authorization: string | undefined, token: string | undefined, extra?: () => Promise<string>): Promise<ScrapeAnswer> {
  if (token !== undefined) {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
    if (!safeEqualHex(hashSecret(presented), hashSecret(token))) {
      return { status: 401, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unauthorized', message: 'metrics: Authorization: Bearer <GATEHOUSE_METRICS_TOKEN> required' } }) };
    }
  }
  const own = await registry.metrics();
  const more = extra ? await extra() : '';
  return { status: 200, contentType: registry.contentType, body: more ? `${own}\n${more}` : own };
}
