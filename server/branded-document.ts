import { readFile } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerDeps } from './context.js';
import type { SecurityHeaders } from './security-headers.js';
import { getBranding, LOGO_PATH, readLogo } from '../core/branding/service.js';
import { escapeHtml } from './html.js';

/**
 * The logo's https origin, which the document's CSP must allow for the <img> to load. Allowing that
 * one origin (in the document's own policy, read with the branding on every document request) was
 * chosen over fetching the image into Gatehouse: no outbound request from the server on an
 * operator's say-so (nothing to guard against private addresses), and the provider's CDN keeps
 * serving its own logo. The origin is a parsed URL's, so it cannot smuggle another directive in.
 */
function logoOrigins(logoUrl: string | null): string[] {
  return logoUrl && URL.canParse(logoUrl) ? [new URL(logoUrl).origin] : [];
}

/**
 * The UI's index.html as served: the product name in its <title> (so a browser tab, a bookmark and
 * the host page's frame say "Descriptra" before any script runs) and a CSP that lets the logo load.
 * The document is revalidated on every load (no-cache with an ETag): a branding change shows at
 * once, while the hashed scripts and styles it names keep their long cache.
 */
export function brandedDocument(deps: ServerDeps, headers: SecurityHeaders, uiDist: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    Promise.all([readFile(`${uiDist}/index.html`, 'utf8'), getBranding(deps.orm.em.fork() as EntityManager)])
      .then(([html, branding]) => {
        headers.ui(res, logoOrigins(branding.logoUrl));
        res.set('Cache-Control', 'no-cache');
        res.type('html').send(html.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(branding.productName)}</title>`));
      })
      .catch(next);
  };
}

/**
 * `GET /branding/logo`, public: the uploaded logo, from Gatehouse itself so the portal's CSP
 * (img-src 'self') holds. Served as the type its bytes were checked to be (core/branding/logo.ts),
 * never sniffed; the UI asks for it with `?v=` of the branding's version, so a short cache is enough.
 */
export function serveLogo(app: Express, deps: ServerDeps): void {
  app.get(LOGO_PATH, async (req, res, next) => {
    try {
      const logo = await readLogo(deps.orm.em.fork() as EntityManager);
      if (!logo) {
        res.status(404).json({ error: { code: 'not_found', message: 'No logo is uploaded' } });
        return;
      }
      res.set({
        'Content-Type': logo.contentType,
        'Cache-Control': 'public, max-age=300',
        ETag: logo.etag,
        'X-Content-Type-Options': 'nosniff',
        // Opened on its own, the image may run nothing (it cannot: no SVG is accepted; this is the second lock).
        'Content-Security-Policy': "default-src 'none'; sandbox",
      });
      if (req.fresh) {
        res.status(304).end();
        return;
      }
      res.send(logo.bytes);
    } catch (err) {
      next(err);
    }
  });
}
