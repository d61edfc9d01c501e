import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { typedDb, type Row } from '../../db/kysely.js';
import { recordAudit, type AuditActor } from '../audit.js';
import type { UpdateBrandingInput } from './schema.js';

/** Gatehouse's own, shown while no operator has set any branding. */
export const DEFAULT_PRODUCT_NAME = 'Gatehouse';
/** Where Gatehouse serves an uploaded logo (server/branding-logo.ts): the portal's CSP allows 'self'. */
export const LOGO_PATH = '/branding/logo';

/** How the portal presents itself: what the sign-in page needs before anyone signs in, and no more. */
export interface BrandingView {
  productName: string;
  /** The start of new workspaces' secrets (`desc` gives `desc_sk_live_…`); null: Gatehouse's `gate`. */
  keyPrefix: string | null;
  /** `#rrggbb`; null: the portal's own blue. */
  accentColor: string | null;
  /** The https logo URL the operator set; null when the logo is uploaded or there is none. */
  logoUrl: string | null;
  /** What an <img> loads: the uploaded logo on Gatehouse (versioned, so a new one shows at once), the https URL, or null. */
  logoSrc: string | null;
  /** https: or mailto:; null: no support link. */
  supportUrl: string | null;
  /** Null while the branding is Gatehouse's default. */
  updatedAt: string | null;
}

type Fields = Omit<Row<'branding'>, 'logo'>;
const FIELDS = ['id', 'product_name', 'key_prefix', 'accent_color', 'logo_url', 'logo_content_type', 'support_url', 'updated_at', 'updated_by'] as const;

const DEFAULT: BrandingView = { productName: DEFAULT_PRODUCT_NAME, keyPrefix: null, accentColor: null, logoUrl: null, logoSrc: null, supportUrl: null, updatedAt: null };

function view(r: Fields | undefined): BrandingView {
  if (!r) return DEFAULT;
  const updatedAt = new Date(r.updated_at);
  return {
    productName: r.product_name,
    keyPrefix: r.key_prefix,
    accentColor: r.accent_color,
    logoUrl: r.logo_url,
    logoSrc: r.logo_content_type ? `${LOGO_PATH}?v=${updatedAt.getTime()}` : r.logo_url,
    supportUrl: r.support_url,
    updatedAt: updatedAt.toISOString(),
  };
}

const readRow = (em: EntityManager, lock = false) => {
  const q = typedDb(em).selectFrom('branding').select(FIELDS).where('id', '=', 1);
  return (lock ? q.forUpdate() : q).executeTakeFirst() as Promise<Fields | undefined>;
};

export async function getBranding(em: EntityManager): Promise<BrandingView> {
  return view(await readRow(em));
}

/** The row as it will be: the current one (or the default) with `patch` applied; one statement whether or not a row exists. */
async function writeRow(tx: EntityManager, actor: AuditActor, patch: Partial<Row<'branding'>>): Promise<void> {
  const current = await readRow(tx, true);
  const row = {
    product_name: current?.product_name ?? DEFAULT_PRODUCT_NAME,
    key_prefix: current?.key_prefix ?? null,
    accent_color: current?.accent_color ?? null,
    logo_url: current?.logo_url ?? null,
    logo_content_type: current?.logo_content_type ?? null,
    support_url: current?.support_url ?? null,
    ...patch,
    updated_at: new Date(),
    updated_by: actor.keyId,
  };
  await typedDb(tx)
    .insertInto('branding')
    .values({ id: 1, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

const audit = (tx: EntityManager, actor: AuditActor, changes: Record<string, unknown>) =>
  recordAudit(tx, actor, { workspaceId: actor.workspaceId, action: 'branding.updated', targetType: 'branding', targetId: 'branding', changes });

/** Each field given replaces the current one. An https logo URL replaces an uploaded logo. */
export async function updateBranding(em: EntityManager, actor: AuditActor, input: UpdateBrandingInput): Promise<BrandingView> {
  return em.transactional(async (tx) => {
    const patch: Partial<Row<'branding'>> = {};
    const changes: Record<string, unknown> = {};
    const set = <K extends keyof Row<'branding'>>(column: K, value: Row<'branding'>[K] | undefined) => {
      if (value === undefined) return;
      patch[column] = value;
      changes[column] = value;
    };
    set('product_name', input.productName);
    set('key_prefix', input.keyPrefix);
    set('accent_color', input.accentColor);
    set('support_url', input.supportUrl);
    set('logo_url', input.logoUrl);
    if (input.logoUrl) Object.assign(patch, { logo: null, logo_content_type: null });
    await writeRow(tx, actor, patch);
    await audit(tx, actor, changes);
    return view(await readRow(tx));
  });
}

/** An uploaded logo (checked by logoType in logo.ts) replaces the logo URL. */
export async function setLogo(em: EntityManager, actor: AuditActor, bytes: Buffer, contentType: string): Promise<BrandingView> {
  return em.transactional(async (tx) => {
    await writeRow(tx, actor, { logo: bytes, logo_content_type: contentType, logo_url: null });
    await audit(tx, actor, { logo: 'uploaded', logo_content_type: contentType, logo_bytes: bytes.length, logo_url: null });
    return view(await readRow(tx));
  });
}

/** No logo at all, uploaded or by URL: the header shows the product name alone. */
export async function removeLogo(em: EntityManager, actor: AuditActor): Promise<BrandingView> {
  return em.transactional(async (tx) => {
    await writeRow(tx, actor, { logo: null, logo_content_type: null, logo_url: null });
    await audit(tx, actor, { logo: null, logo_url: null });
    return view(await readRow(tx));
  });
}

/** The uploaded logo's bytes, type and an ETag (their hash), or undefined when none is uploaded. */
export async function readLogo(em: EntityManager): Promise<{ bytes: Buffer; contentType: string; etag: string } | undefined> {
  const row = await typedDb(em).selectFrom('branding').select(['logo', 'logo_content_type']).where('id', '=', 1).executeTakeFirst();
  if (!row?.logo || !row.logo_content_type) return undefined;
  const bytes = Buffer.from(row.logo as Uint8Array);
  return { bytes, contentType: row.logo_content_type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"` };
}
