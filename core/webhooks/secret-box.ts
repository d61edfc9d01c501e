import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { typedDb } from '../../db/kysely.js';

/**
 * Webhook signing secrets are HMAC keys Gatehouse must use again, so they cannot be hashed:
 * they are sealed with AES-256-GCM, bound to the endpoint they belong to (AAD), under a key
 * derived (HKDF-SHA256) from GATEHOUSE_SECRET_KEY or, when that is unset, from a random
 * per-install key kept in `gatehouse_install_key`. The prefix of each sealed value names its
 * key (`e1:` env, `i1:` install), so setting GATEHOUSE_SECRET_KEY later does not strand secrets
 * sealed before it (re-sealing happens at the next rotation).
 */
export interface SecretBoxDeps {
  em: EntityManager;
  secretKey?: string;
}

const INFO = 'gatehouse webhook signing secrets v1';
/** One install key per ORM (per database): tests run several in one process. */
const installKeys = new WeakMap<object, Promise<Buffer>>();

function derive(material: Buffer | string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'gatehouse', INFO, 32));
}

async function loadInstallKey(em: EntityManager): Promise<Buffer> {
  const db = typedDb(em);
  await db
    .insertInto('gatehouse_install_key')
    .values({ id: 1, key: randomBytes(32).toString('hex'), created_at: sql<Date>`now()` })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const { key } = await db.selectFrom('gatehouse_install_key').select('key').where('id', '=', 1).executeTakeFirstOrThrow();
  return derive(Buffer.from(key, 'hex'));
}

function installKeyFor(em: EntityManager): Promise<Buffer> {
  let key = installKeys.get(em.config);
  if (!key) {
    key = loadInstallKey(em).catch((err: unknown) => {
      installKeys.delete(em.config);
      throw err;
    });
    installKeys.set(em.config, key);
  }
  return key;
}

async function keyFor(deps: SecretBoxDeps, kind: 'e1' | 'i1'): Promise<Buffer> {
  if (kind === 'e1') {
    if (!deps.secretKey) throw new Error('a webhook secret was sealed with GATEHOUSE_SECRET_KEY, which is no longer set');
    return derive(deps.secretKey);
  }
  return installKeyFor(deps.em);
}

export async function seal(deps: SecretBoxDeps, plaintext: string, boundTo: string): Promise<string> {
  const kind = deps.secretKey ? 'e1' : 'i1';
  const key = await keyFor(deps, kind);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(boundTo));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${kind}:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
}

export async function open(deps: SecretBoxDeps, sealed: string, boundTo: string): Promise<string> {
  const [kind, iv, tag, ct] = sealed.split(':');
  if ((kind !== 'e1' && kind !== 'i1') || !iv || !tag || ct === undefined) throw new Error('sealed webhook secret has an unknown format');
  const key = await keyFor(deps, kind);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAAD(Buffer.from(boundTo));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    // Never the ciphertext or key in the message: only which key failed.
    throw new Error(`a webhook signing secret could not be decrypted with the ${kind === 'e1' ? 'GATEHOUSE_SECRET_KEY' : 'per-install'} key`);
  }
}
