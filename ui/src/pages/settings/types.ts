import type { Outputs } from '../../lib/trpc.js';

/** The workspace's OAuth settings as `oauth.settings` answers them (derived, so a rename fails svelte-check). */
export type OAuthSettings = Outputs['oauth']['settings'];

/** The longest token lifetime a workspace may set (issue #14: at most 24 h). */
export const MAX_TOKEN_TTL_SECONDS = 86_400;

/** "15 min", "1 h 30 min", "24 h": a lifetime in words. */
export function describeTtl(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h && `${h} h`, m && `${m} min`, s && `${s} s`].filter(Boolean).join(' ') || '0 s';
}
