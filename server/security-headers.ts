import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { frameAncestors, type Config } from '../core/config.js';

/**
 * JSON never needs to load anything or be framed: should a browser ever render an API response
 * as a document (a sniffed error page, an old client), it can run nothing and be embedded nowhere.
 */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

function frameAncestorsDirective(ancestors: string[]): string {
  return `frame-ancestors ${ancestors.length > 0 ? ancestors.join(' ') : "'none'"}`;
}

/**
 * A page the server writes itself that opens inside the provider's frame (a sign-in link's
 * refusal): it loads nothing, as API responses, but may be framed where the UI may, so the person
 * reads why instead of the browser's refused-frame page.
 */
export function framedPageHeaders(res: Response, config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>, styleHash?: string): void {
  const ancestors = frameAncestors(config);
  // A server-made page may carry one fixed <style> element, allowed by its hash and nothing else.
  const style = styleHash ? `; style-src 'sha256-${styleHash}'` : '';
  res.setHeader('Content-Security-Policy', `default-src 'none'${style}; ${frameAncestorsDirective(ancestors)}`);
  if (ancestors.length > 0) res.removeHeader('X-Frame-Options');
}

/**
 * The admin UI's policy. The Vite build is one module script and one stylesheet from 'self', with
 * no inline script or <style>; Svelte sets dynamic styles through CSSOM (element.style), which CSP
 * does not govern, so style-src needs no 'unsafe-inline'. Charts are drawn on a canvas; `data:`
 * images cover the icons the stylesheet may inline.
 */
function uiCsp(ancestors: string[], imgOrigins: string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ["img-src 'self' data:", ...imgOrigins].join(' '),
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    frameAncestorsDirective(ancestors),
  ].join('; ');
}

/**
 * What every API response carries, as names and values in turn (the list `writeHead` takes): Express's
 * `all` sets them one by one, the verify fast path (server/fast-verify.ts) writes them with its answer.
 */
export const API_HEADERS: readonly string[] = [
  'Content-Security-Policy',
  API_CSP,
  'X-Content-Type-Options',
  'nosniff',
  // Gatehouse's URLs carry ids and filters; no other site needs to learn them from a Referer.
  'Referrer-Policy',
  'no-referrer',
  'X-Frame-Options',
  'DENY',
];

/** The JSON answers' Content-Type: the REST routes' and the verify fast path's, one value so they cannot drift. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Sets a list of names and values in turn (as `writeHead` takes them) onto a response, one by one. */
export function setHeaderList(res: Pick<ServerResponse, 'setHeader'>, list: readonly string[]): void {
  for (let i = 0; i < list.length; i += 2) res.setHeader(list[i]!, list[i + 1]!);
}

export function setApiHeaders(res: Pick<ServerResponse, 'setHeader'>): void {
  setHeaderList(res, API_HEADERS);
}

export interface SecurityHeaders {
  /** Every response: set first, so errors, 404s and tRPC's own responses carry them too. */
  all: (req: Request, res: Response, next: NextFunction) => void;
  /**
   * Called for the UI's files: replaces the API policy with the UI's. The document passes the
   * branding's https logo origin (server/branded-document.ts): images may load from it too.
   */
  ui: (res: Response, imgOrigins?: string[]) => void;
}

export function securityHeaders(config: Pick<Config, 'GATEHOUSE_PORTAL_FRAME_ANCESTORS'>): SecurityHeaders {
  const ancestors = frameAncestors(config);
  const ui = uiCsp(ancestors);
  return {
    all(_req, res, next) {
      setApiHeaders(res);
      next();
    },
    ui(res, imgOrigins) {
      res.setHeader('Content-Security-Policy', imgOrigins?.length ? uiCsp(ancestors, imgOrigins) : ui);
      // X-Frame-Options can only say DENY or SAMEORIGIN: with framing origins configured, CSP alone decides.
      if (ancestors.length > 0) res.removeHeader('X-Frame-Options');
    },
  };
}
