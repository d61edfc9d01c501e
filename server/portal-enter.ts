import { createHash } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import type { ServerDeps } from './context.js';
import { redeemLink } from '../core/portal/links.js';
import { openPortalSession } from './auth/portal-session.js';
import { setSessionCookie } from './auth/session.js';
import { getBranding, type BrandingView } from '../core/branding/service.js';
import { escapeHtml } from './html.js';
import { framedPageHeaders } from './security-headers.js';

const REFUSALS = {
  forged: { title: 'This sign-in link is not valid', text: 'The link is not one this portal issued, or it was cut short when it was copied. Ask for a new link from the product you came from.' },
  used: { title: 'This sign-in link was already used', text: 'Each sign-in link opens one session only. Go back to the product you came from and open the portal again to get a new link.' },
  expired: { title: 'This sign-in link has expired', text: 'Sign-in links work for a few minutes only. Go back to the product you came from and open the portal again to get a new link.' },
} as const;

/** The refusal page's only styling: a fixed <style> element its CSP allows by hash (no inline attributes). */
const PAGE_CSS = 'body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}';
const PAGE_CSS_HASH = createHash('sha256').update(PAGE_CSS).digest('base64');

/** Under the provider's name (the branding), with its support link when one is set. */
function page(brand: BrandingView, title: string, text: string): string {
  const name = escapeHtml(brand.productName);
  const support = brand.supportUrl ? `<p><a href="${escapeHtml(brand.supportUrl)}">Contact ${name} support</a></p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · ${name}</title><style>${PAGE_CSS}</style></head><body><p><strong>${name}</strong></p><h1>${title}</h1><p>${text}</p><p>No session was opened.</p>${support}</body></html>`;
}

/**
 * `GET /portal/enter?token=…`, public: spends a customer-portal sign-in link, sets the session
 * cookie exactly as key sign-in does, and sends the browser to the dashboard. An expired, reused or
 * forged link gets a 401 page that says which, and no session.
 */
export function portalEnterRoute(app: Express, deps: ServerDeps): void {
  app.get('/portal/enter', async (req: Request, res: Response, next) => {
    try {
      const token = typeof req.query['token'] === 'string' ? req.query['token'] : '';
      const em = deps.orm.em.fork();
      const spent = await redeemLink(em as never, token);
      res.set({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      if (!spent.ok) {
        const r = REFUSALS[spent.reason];
        framedPageHeaders(res, deps.config, PAGE_CSS_HASH);
        res.status(401).type('html').send(page(await getBranding(em as never), r.title, r.text));
        return;
      }
      const session = await openPortalSession(em as never, spent.tokenHash);
      setSessionCookie(req, res, session, deps.config);
      res.redirect(303, '/#/');
    } catch (err) {
      next(err);
    }
  });
}
