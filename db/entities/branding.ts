import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * How the portal presents itself: one row (id 1) per install, set by an operator. With no row the
 * portal is Gatehouse's own. New workspaces take `keyPrefix` as the start of their secrets, so a
 * provider's customers see `desc_sk_live_…`, not `gate_sk_live_…`.
 */
export const Branding = defineEntity({
  name: 'Branding',
  tableName: 'branding',
  properties: {
    id: p.smallint().primary().autoincrement(false),
    productName: p.string().length(80),
    /** Default key prefix of workspaces created from now on; existing workspaces keep theirs. */
    keyPrefix: p.string().length(16).nullable(),
    /** `#rrggbb`. */
    accentColor: p.string().length(7).nullable(),
    /** An https URL, or null when the logo is uploaded (`logo`) or there is none. */
    logoUrl: p.string().length(2048).nullable(),
    /** An uploaded logo's bytes, served by Gatehouse itself so the portal's CSP stays 'self'. */
    logo: p.blob().nullable().lazy(),
    logoContentType: p.string().length(40).nullable(),
    supportUrl: p.string().length(2048).nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    /** The operator key (or person) that changed it last. */
    updatedBy: p.string().length(128),
  },
});
export type IBranding = InferEntity<typeof Branding>;
