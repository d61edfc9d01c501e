import { inkOn } from './accent.js';
import type { Outputs } from './trpc.js';

export type Branding = Outputs['branding']['get'];

/** Gatehouse's own, until the server says otherwise (the document's <title> already does). */
const DEFAULT: Branding = { productName: 'Gatehouse', keyPrefix: null, accentColor: null, logoUrl: null, logoSrc: null, supportUrl: null, updatedAt: null };

/** How the portal presents itself: the product name, logo and support link every page shows. */
class BrandingState {
  current = $state<Branding>(DEFAULT);
}
export const branding = new BrandingState();

/**
 * Makes `b` the portal's look: the accent as the `--accent` custom property, set through CSSOM on
 * the root element (the CSP's style-src 'self' allows no inline style attribute or <style>), with
 * `--accent-ink` white or black by contrast, and the tab's title.
 */
export function applyBranding(b: Branding, root: HTMLElement = document.documentElement): void {
  branding.current = b;
  if (b.accentColor) {
    root.style.setProperty('--accent', b.accentColor);
    root.style.setProperty('--accent-ink', inkOn(b.accentColor));
  } else {
    root.style.removeProperty('--accent');
    root.style.removeProperty('--accent-ink');
  }
  document.title = b.productName;
}
