import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { closedObject } from '../../core/keys/schema.js';
import { keyPrefixSchema } from '../../core/workspaces.js';
import { accentColorSchema, logoUrlSchema, productNameSchema, supportUrlSchema } from '../../core/branding/schema.js';
import { getBranding, removeLogo, setLogo, updateBranding, type BrandingView } from '../../core/branding/service.js';
import { LOGO_MAX_BYTES, LOGO_TYPES, logoType } from '../../core/branding/logo.js';
import { badRequest, HttpError } from '../../core/errors.js';
import { actorOf } from '../actor.js';
import { camelKeys, snakeKeys } from './case.js';
import { defineRoute } from './route.js';

const TAGS = ['branding'];

const BrandingBody = z
  .object({
    product_name: z.string().meta({ example: 'Descriptra' }),
    key_prefix: z.string().nullable().meta({ description: 'Default key prefix of new workspaces; null: `gate`.', example: 'desc' }),
    accent_color: z.string().nullable().meta({ example: '#7c3aed' }),
    logo_url: z.string().nullable().meta({ description: 'The https logo URL set, if the logo is not uploaded.' }),
    logo_src: z.string().nullable().meta({ description: 'What an <img> loads: `/branding/logo?v=…` for an uploaded logo, else `logo_url`.' }),
    support_url: z.string().nullable().meta({ example: 'mailto:soporte@descriptra.example' }),
    updated_at: z.string().nullable().meta({ format: 'date-time', description: 'Null while the branding is Gatehouse’s default.' }),
  })
  .meta({ id: 'Branding' });

const toRest = (b: BrandingView) => snakeKeys(b);

const UpdateBrandingBody = closedObject({
  product_name: productNameSchema.optional(),
  key_prefix: keyPrefixSchema.nullable().optional(),
  accent_color: accentColorSchema.nullable().optional(),
  logo_url: logoUrlSchema.nullable().optional(),
  support_url: supportUrlSchema.nullable().optional(),
}).meta({
  id: 'UpdateBranding',
  example: { product_name: 'Descriptra', key_prefix: 'desc', accent_color: '#7c3aed', support_url: 'mailto:soporte@descriptra.example' },
});

export const getBrandingRoute = defineRoute({
  method: 'get',
  path: '/settings/branding',
  summary: "How the portal presents itself (public: the sign-in page shows it before anyone signs in)",
  tags: TAGS,
  response: BrandingBody,
  handler: async ({ ctx }) => toRest(await getBranding(ctx.em)),
});

export const updateBrandingRoute = defineRoute({
  method: 'patch',
  path: '/settings/branding',
  summary: 'Change the portal’s product name, key prefix, accent colour, logo URL or support link (operators only)',
  tags: TAGS,
  scope: 'operator',
  body: UpdateBrandingBody,
  response: BrandingBody,
  handler: async ({ ctx, body }) => {
    if (Object.keys(body).length === 0) throw badRequest('body: send at least one field to change');
    return toRest(await updateBranding(ctx.em, actorOf(ctx), camelKeys(body)));
  },
});

const rawLogo = express.raw({ type: () => true, limit: LOGO_MAX_BYTES });

/** The request's bytes, whatever its content type; over the limit is a 413 naming `logo`, unread. */
function readBytes(req: Request, res: Response): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    rawLogo(req, res, (err?: unknown) => {
      const e = err as { type?: string } | undefined;
      if (e?.type === 'entity.too.large') return reject(new HttpError(413, 'payload_too_large', `logo: larger than ${LOGO_MAX_BYTES / 1024} KB`, 'logo'));
      if (err) return reject(err);
      // A JSON body was parsed before this route ran: not an image.
      if (!Buffer.isBuffer(req.body)) return reject(new HttpError(400, 'invalid_logo', `logo: send the image file itself as the body, with its Content-Type (${LOGO_TYPES.join(', ')})`, 'logo'));
      resolve(req.body);
    });
  });
}

export const putLogoRoute = defineRoute({
  method: 'put',
  path: '/settings/branding/logo',
  summary: `Upload the portal’s logo: the image file as the body, PNG, JPEG, WebP or GIF, at most ${LOGO_MAX_BYTES / 1024} KB (operators only)`,
  tags: TAGS,
  scope: 'operator',
  errors: [413],
  // Checked against the bytes by logoType, which names `logo` when either is wrong.
  headers: z.object({ 'content-type': z.string().optional().meta({ description: `The image's type: ${LOGO_TYPES.join(', ')}.`, example: 'image/png' }) }),
  response: BrandingBody,
  handler: async ({ ctx, req, res, headers }) => {
    const bytes = await readBytes(req, res);
    const type = logoType(bytes, headers['content-type']);
    return toRest(await setLogo(ctx.em, actorOf(ctx), bytes, type));
  },
});

export const deleteLogoRoute = defineRoute({
  method: 'delete',
  path: '/settings/branding/logo',
  summary: 'Remove the portal’s logo, uploaded or by URL (operators only)',
  tags: TAGS,
  scope: 'operator',
  response: BrandingBody,
  handler: async ({ ctx }) => toRest(await removeLogo(ctx.em, actorOf(ctx))),
});

export const brandingRoutes = [getBrandingRoute, updateBrandingRoute, putLogoRoute, deleteLogoRoute];
