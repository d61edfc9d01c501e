import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * A random key made on first use when GATEHOUSE_SECRET_KEY is unset; webhook signing secrets are
 * encrypted with a key derived from it. One row (id 1) per installation.
 */
export const InstallKey = defineEntity({
  name: 'InstallKey',
  tableName: 'gatehouse_install_key',
  properties: {
    id: p.integer().primary().autoincrement(false),
    key: p.string().length(64),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type IInstallKey = InferEntity<typeof InstallKey>;
