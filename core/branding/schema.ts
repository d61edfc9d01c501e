import { z } from 'zod';
import { closedObject } from '../keys/schema.js';
import { keyPrefixSchema } from '../workspaces.js';

/** What the portal is called where Gatehouse's name would be: the title bar, the header, sign-in. */
export const productNameSchema = z
  .string({ error: 'expected a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(80, 'at most 80 characters')
  .meta({ description: 'Shown in the page title, the header, the sign-in and error pages.', example: 'Descriptra' });

export const accentColorSchema = z
  .string({ error: 'expected a string' })
  .regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour as #rrggbb')
  .transform((c) => c.toLowerCase())
  .meta({ description: 'Buttons, links and the current page in the menu, as `#rrggbb`.', example: '#7c3aed' });

/** A URL with one of `protocols`, at most 2048 characters (the column's width). */
const urlWith = (protocols: string[], message: string) =>
  z
    .string({ error: 'expected a string' })
    .max(2048, 'at most 2048 characters')
    .refine((s) => URL.canParse(s) && protocols.includes(new URL(s).protocol), message);

/**
 * Only https: the portal's pages are served over TLS in production, and its Content-Security-Policy
 * lets images load from this one origin besides Gatehouse itself (server/branded-document.ts).
 */
export const logoUrlSchema = urlWith(['https:'], 'expected an https:// URL').meta({
  description: 'An image on https; null shows the uploaded logo, if any. Setting it replaces an uploaded logo.',
  example: 'https://cdn.descriptra.example/logo.png',
});

export const supportUrlSchema = urlWith(['https:', 'mailto:'], 'expected an https:// or mailto: URL').meta({
  description: 'Where a customer asks for help: shown in the portal’s header and on its error pages.',
  example: 'mailto:soporte@descriptra.example',
});

/** A change of branding: each field given replaces the current one; `null` clears it. */
export const updateBrandingInput = closedObject({
  productName: productNameSchema.optional(),
  keyPrefix: keyPrefixSchema.nullable().optional(),
  accentColor: accentColorSchema.nullable().optional(),
  logoUrl: logoUrlSchema.nullable().optional(),
  supportUrl: supportUrlSchema.nullable().optional(),
});
export type UpdateBrandingInput = z.output<typeof updateBrandingInput>;
