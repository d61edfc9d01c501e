import type { Request } from 'express';
import type { Context } from './context.js';
import { checkReturnUrl, mintLink, returnOrigins, type MintInput } from '../core/portal/links.js';

/**
 * Mints a customer-portal sign-in link (tRPC `portal.createSession` and `POST /portal/sessions`):
 * the return URL checked against GATEHOUSE_PORTAL_RETURN_ORIGINS, the URL built on PUBLIC_URL
 * (or, unset, the address the provider's backend called).
 */
export async function createPortalLink(ctx: Context & { principal: NonNullable<Context['principal']> }, req: Request | undefined, input: MintInput) {
  const returnUrl = input.returnUrl === undefined ? undefined : checkReturnUrl(input.returnUrl, returnOrigins(ctx.config.GATEHOUSE_PORTAL_RETURN_ORIGINS));
  const link = await mintLink(ctx.em, ctx.principal.keyId, { ...input, returnUrl });
  const url = new URL('/portal/enter', publicBase(ctx, req));
  url.searchParams.set('token', link.token);
  return { url: url.href, expiresAt: link.expiresAt.toISOString() };
}

/** Where this Gatehouse answers: PUBLIC_URL, or (unset) the address the caller used. */
export function publicBase(ctx: Pick<Context, 'config'>, req: Request | undefined): string {
  return ctx.config.PUBLIC_URL ?? (req ? `${req.protocol}://${req.get('host') ?? 'localhost'}` : 'http://localhost');
}
