import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * The provider's own API, registered by an operator with its OpenAPI 3 document, so the customers'
 * playground can offer its operations and `POST /playground/send` can proxy to it. One per install
 * (id `default`): the provider runs Gatehouse beside one API.
 */
export const ProviderApi = defineEntity({
  name: 'ProviderApi',
  tableName: 'provider_api',
  properties: {
    id: p.string().primary().length(64),
    title: p.string().length(200),
    version: p.string().length(64),
    /** Every proxied call goes here and nowhere else (then through the webhooks' egress guard). */
    baseUrl: p.string().length(2048),
    /** The validated document, parsed; internal `$ref`s kept as written (external ones are refused). */
    document: p.json<Record<string, unknown>>(),
    /** The document as uploaded (JSON or YAML), for download. */
    source: p.text().lazy(),
    /** Where the customer's key goes, as the document's security scheme names it. */
    keyHeader: p.string().length(100),
    /** `header` (the key as is) or `bearer` (`Authorization: Bearer <key>`). */
    keyScheme: p.string().length(16),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    updatedBy: p.string().length(128),
  },
});
export type IProviderApi = InferEntity<typeof ProviderApi>;
