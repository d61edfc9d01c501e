import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { defineEntity, p } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { entities } from '../../db/entities/index.js';
import { InstallKey } from '../../db/entities/webhooks.js';
import { createOrm, migrate, type Orm } from '../../db/orm.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/postgres.js';
import { schemaDrift } from '../../db/schema-drift.js';

const run = promisify(execFile);

let url: string;
let orm: Orm;
beforeAll(async () => {
  url = withDatabase(inject('databaseUrl'), `gh_test_${randomBytes(5).toString('hex')}`);
  await ensureDatabase(url);
  orm = await createOrm(url);
  await migrate(orm);
});
afterAll(async () => {
  await orm.close();
  await dropDatabase(url);
});

const sql = (statement: string) => orm.em.fork().execute(statement);

describe('entities are the schema', () => {
  it('the entities describe exactly what the migrations build', async () => {
    expect(await schemaDrift(orm)).toBe('');
  });

  it('`npm run migration:check` passes on this tree with one line', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/migration-check.ts'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
    });
    expect(stdout.trim()).toBe('migration:check: the entities match the schema the migrations build');
  });

  it('an entity with a column no migration made is drift, named by table and column', async () => {
    // InstallKey as declared, plus one column: what an entity edit without its migration looks like.
    const Changed = defineEntity({
      name: 'InstallKey',
      tableName: 'gatehouse_install_key',
      properties: {
        id: p.integer().primary().autoincrement(false),
        key: p.string().length(64),
        createdAt: p.datetime().onCreate(() => new Date()),
        note: p.string().length(100).nullable(),
      },
    });
    const changed = await createOrm(url, { entities: [...entities.filter((e) => e !== InstallKey), Changed] });
    try {
      expect(await schemaDrift(changed)).toBe('alter table "gatehouse_install_key" add "note" varchar(100) null;');
    } finally {
      await changed.close();
    }
  });

  it('a rate-limit counter table that is not UNLOGGED is drift, though no entity option says so', async () => {
    await sql(`alter table rate_limit_counter set logged`);
    try {
      expect(await schemaDrift(orm)).toBe('alter table "rate_limit_counter" set unlogged;');
    } finally {
      await sql(`alter table rate_limit_counter set unlogged`);
    }
    expect(await schemaDrift(orm)).toBe('');
  });

  it('a partial index is compared with its predicate', async () => {
    await sql(`drop index api_key_secret_pending_expiry_index`);
    await sql(`create index api_key_secret_pending_expiry_index on api_key_secret (expires_at) where revoked_at is null`);
    try {
      expect(await schemaDrift(orm)).toContain('where "revoked_at" is null and "expires_at" is not null');
    } finally {
      await sql(`drop index api_key_secret_pending_expiry_index`);
      await sql(`create index api_key_secret_pending_expiry_index on api_key_secret (expires_at) where revoked_at is null and expires_at is not null`);
    }
    expect(await schemaDrift(orm)).toBe('');
  });
});
