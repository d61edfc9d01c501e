import { HttpError } from '../errors.js';

/** An uploaded logo's ceiling: a header image, not a photograph. */
export const LOGO_MAX_BYTES = 256 * 1024;

/**
 * The raster formats a logo may be, known by their first bytes. No SVG: an SVG document can carry
 * script, and one opened on its own (the logo's URL in a new tab) runs it on Gatehouse's origin.
 */
const FORMATS: { type: string; matches: (b: Buffer) => boolean }[] = [
  { type: 'image/png', matches: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { type: 'image/jpeg', matches: (b) => b.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) },
  { type: 'image/gif', matches: (b) => ['GIF87a', 'GIF89a'].includes(b.subarray(0, 6).toString('latin1')) },
  { type: 'image/webp', matches: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
];

export const LOGO_TYPES = FORMATS.map((f) => f.type);

const refuse = (message: string) => new HttpError(400, 'invalid_logo', `logo: ${message}`, 'logo');

/**
 * The content type an upload is stored and served with: the one its bytes show, which must be the
 * one it was sent as. A text file with a PNG's content type, or a PNG's first bytes on an SVG, is refused.
 */
export function logoType(bytes: Buffer, declared: string | undefined): string {
  if (bytes.length === 0) throw refuse('the body is empty; send the image file as the body');
  if (bytes.length > LOGO_MAX_BYTES) throw new HttpError(413, 'payload_too_large', `logo: larger than ${LOGO_MAX_BYTES / 1024} KB`, 'logo');
  const sent = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  if (!LOGO_TYPES.includes(sent)) throw refuse(`send a PNG, JPEG, WebP or GIF with its Content-Type (${LOGO_TYPES.join(', ')}); got '${sent || 'none'}'`);
  const actual = FORMATS.find((f) => f.matches(bytes))?.type;
  if (actual !== sent) throw refuse(`the file is not a ${sent.slice('image/'.length).toUpperCase()} image${actual ? ` (its bytes are ${actual})` : ''}`);
  return actual;
}
