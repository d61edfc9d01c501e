/** What the branding form sends: each field as it should be; `logo` says what becomes of the logo. */
export interface BrandingInput {
  productName: string;
  keyPrefix: string | null;
  accentColor: string | null;
  supportUrl: string | null;
  logo: { kind: 'keep' } | { kind: 'none' } | { kind: 'url'; url: string } | { kind: 'file'; file: File };
}

/** The server's limits (core/branding/logo.ts), checked here first so a wrong file never leaves the browser. */
export const LOGO_MAX_BYTES = 256 * 1024;
export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

/** The form's fields, as the server's errors name them (camelCased by lib/form-errors.ts). */
export const BRANDING_FIELDS = ['productName', 'keyPrefix', 'accentColor', 'supportUrl', 'logoUrl', 'logo'] as const;
