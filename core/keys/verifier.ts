import { createHmac, createSecretKey, hash as oneShotHash, timingSafeEqual, type KeyObject } from 'node:crypto';
import pg from 'pg';
import { connectionErrorFields } from '../../db/connection-error.js';
import type { Logger } from '../log.js';
import { DigestMemo } from './digest-memo.js';
import { KeyCache, type KeyCacheOptions } from './key-cache.js';
import { OAuthCache } from '../oauth/cache.js';
import { startKeyListener, type KeyListener } from './key-listener.js';
import { KEY_BY_HASH_SQL, toRecord, type KeyRecord, type KeyRow } from './key-record.js';
import { LastUsedTouches } from './last-used.js';
import { KEY_CHANGED_CHANNEL } from './notify.js';
import { RateLimiter, WORKSPACE_COUNTERS } from './rate-limit.js';
import { WorkspaceLimitsCache } from '../plans/limits-cache.js';
import { QuotaCounter } from '../plans/quota.js';
import { hashSecret, hasValidChecksum } from './secret.js';

export interface KeyVerifierOptions {
  databaseUrl: string;
  /** GATEHOUSE_KEY_PEPPER. */
  pepper?: string;
  /** GATEHOUSE_BOOTSTRAP_KEY: the one secret allowed outside the generated format. */
  bootstrapKey?: string;
  log: Logger;
  /** Connections of the hot path's own pool. */
  poolSize?: number;
  cache?: KeyCacheOptions;
  /** How often batched last_used_at touches are written. */
  touchEveryMs?: number;
}

/** How often batched last_used_at touches are written, unless `touchEveryMs` says otherwise. */
export const TOUCH_EVERY_MS = 5_000;

/** Payloads of catchUp()'s markers on the key-change channel; a key pk never starts so. */
const SYNC_PREFIX = 'sync:';

/** Longer than any secret Gatehouse issues or accepts as a bootstrap key worth hashing. */
const MAX_SECRET_LENGTH = 512;

/**
 * Everything the verification hot path holds for the life of an API process: its own pg pool,
 * the key cache, the LISTEN connection that keeps the cache honest across processes, the rate
 * limiter and the batched last_used_at writer. Created at start-up, stopped at shutdown.
 *
 * The hot path talks to PostgreSQL through a plain `pg` pool rather than MikroORM: these are a
 * handful of fixed statements with no entities to map, and skipping the ORM's fork and query
 * layer roughly halves the client CPU per statement (measured on a one-row select, 8 concurrent:
 * ~57-78 us with pg, ~103-130 us with em.fork().execute on the shared 2-core box).
 */
export class KeyVerifier {
  readonly cache: KeyCache;
  readonly pool: pg.Pool;
  readonly limiter: RateLimiter;
  /** The rate limits all keys of a workspace share (its plan's, or its overrides). */
  readonly workspaceLimiter: RateLimiter;
  /** Each workspace's effective limits, kept honest by the same listener as the key cache. */
  readonly limits: WorkspaceLimitsCache;
  /** The monthly call quota and credit grant of each workspace. */
  readonly quota: QuotaCounter;
  readonly touches: LastUsedTouches;
  /** Signing keys and workspaces' token settings (core/oauth/cache.ts), kept honest by the same listener. */
  readonly oauth = new OAuthCache();
  /** Statements sent by the hot path, for tests and metrics. */
  queries = 0;
  private listener: KeyListener | undefined;
  /**
   * The pepper as a key object, made once: given the string, createHmac turns it into a key on
   * every call, about a microsecond of each of a verification's two HMACs (the caller's and the
   * verified key's) measured in the server (BENCHMARKS.md, 2026-12-03).
   */
  private readonly pepper: KeyObject | undefined;
  private readonly bootstrapDigest: Buffer | undefined;
  /** With a pepper: found secrets' HMACs, remembered under a cheaper salted hash (digest-memo.ts). */
  private readonly memo: DigestMemo | undefined;
  private readonly log: Logger;
  private readonly touchEveryMs: number;
  private readonly databaseUrl: string;
  private readonly load = (hash: string) => this.loadByHash(hash);
  private syncSeq = 0;
  private readonly syncWaiters = new Map<string, () => void>();

  constructor(opts: KeyVerifierOptions) {
    this.log = opts.log;
    this.pepper = opts.pepper ? createSecretKey(Buffer.from(opts.pepper, 'utf8')) : undefined;
    this.bootstrapDigest = opts.bootstrapKey ? Buffer.from(hashSecret(opts.bootstrapKey, opts.pepper), 'hex') : undefined;
    this.cache = new KeyCache(opts.cache);
    this.memo = this.pepper ? new DigestMemo(this.cache.maxEntries) : undefined;
    this.pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      application_name: 'gatehouse-verify',
    });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', (err) => this.log.warn({ error: connectionErrorFields(err) }, 'verification pool: idle connection lost'));
    const counted = () => {
      this.queries++;
    };
    this.limiter = new RateLimiter(this.pool, { onQuery: counted, onError: (err) => this.log.warn({ err }, 'rate-limit counters: a background statement failed') });
    this.workspaceLimiter = new RateLimiter(this.pool, {
      onQuery: counted,
      onError: (err) => this.log.warn({ err }, 'workspace rate-limit counters: a background statement failed'),
      counters: WORKSPACE_COUNTERS,
    });
    this.limits = new WorkspaceLimitsCache(this.pool, counted);
    this.quota = new QuotaCounter(this.pool, counted, (err) => this.log.warn({ err }, 'monthly quota: a background statement failed'));
    this.touches = new LastUsedTouches(this.pool, (err) => this.log.warn({ err }, 'could not write last_used_at'), counted);
    this.touchEveryMs = opts.touchEveryMs ?? TOUCH_EVERY_MS;
    this.databaseUrl = opts.databaseUrl;
  }

  /**
   * Read your own writes: resolves once this process's listener has heard every change committed
   * before the call. A marker sent now arrives after them (PostgreSQL delivers notifications in
   * commit order), so an API answering a revoke only after this never lets the revoked key in on
   * the caller's next request. Past the deadline the caches are emptied instead, which is as safe.
   */
  async catchUp(deadlineMs = 2_000): Promise<void> {
    if (!this.listener?.connected) return; // nothing is cached while the listener is down
    const token = `${SYNC_PREFIX}${process.pid}:${++this.syncSeq}`;
    let timer: NodeJS.Timeout | undefined;
    const heard = new Promise<boolean>((resolve) => {
      this.syncWaiters.set(token, () => resolve(true));
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
      this.queries++;
      // raw SQL: the marker goes out on the verifier's own pool, like every statement of this class
      await this.pool.query('select pg_notify($1, $2)', [KEY_CHANGED_CHANNEL, token]);
      if (!(await heard)) this.clearCaches();
    } catch (err) {
      this.log.warn({ error: connectionErrorFields(err) }, 'could not confirm key changes were heard; caches emptied');
      this.clearCaches();
    } finally {
      clearTimeout(timer);
      this.syncWaiters.delete(token);
    }
  }

  private clearCaches() {
    this.cache.clear();
    this.limits.clear();
    this.oauth.clear();
  }

  private setCachesEnabled(enabled: boolean) {
    this.cache.enabled = enabled;
    this.limits.enabled = enabled;
    this.oauth.enabled = enabled;
  }

  /** LISTEN sessions established so far: a reconnect (after which the cache starts empty) adds one. */
  get listenerConnections(): number {
    return this.listener?.connections ?? 0;
  }

  /** Starts listening for key changes; resolves once the cache may be used. */
  async start(): Promise<this> {
    this.listener = startKeyListener(
      this.databaseUrl,
      {
        // `workspace:<id>` and `plan:<id>` name limits (core/plans/notify.ts); anything else is a key's pk.
        onChange: (payload) => {
          if (payload.startsWith(SYNC_PREFIX)) {
            this.syncWaiters.get(payload)?.();
            return;
          }
          if (this.oauth.onChange(payload)) return;
          if (!this.limits.onChange(payload)) this.cache.invalidateKey(payload);
        },
        onConnected: () => {
          this.clearCaches();
          this.setCachesEnabled(true);
        },
        onDisconnected: () => {
          this.setCachesEnabled(false);
          this.clearCaches();
        },
      },
      this.log,
    );
    this.touches.start(this.touchEveryMs);
    this.limiter.start();
    this.workspaceLimiter.start();
    this.quota.start();
    await this.listener.ready;
    return this;
  }

  /**
   * The key a secret belongs to, or undefined. A secret in the generated format with a wrong
   * checksum, or any other string that is not the bootstrap key, is refused here without a
   * look-up, so typos and random garbage never reach PostgreSQL or the cache.
   */
  lookup(secret: string): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return undefined;
    // A remembered secret passed the checksum and was found when it was remembered: neither is redone.
    const name = this.memo?.nameOf(secret);
    const known = name === undefined ? undefined : this.memo!.get(name);
    if (known !== undefined) return this.cache.get(known, this.load);
    if (!hasValidChecksum(secret)) {
      if (!this.bootstrapDigest) return undefined;
      const digest = this.digest(secret);
      if (!timingSafeEqual(digest, this.bootstrapDigest)) return undefined;
      return this.cache.get(digest.toString('hex'), this.load);
    }
    const hash = this.digest(secret).toString('hex');
    const found = this.cache.get(hash, this.load);
    if (name === undefined) return found;
    if (!(found instanceof Promise)) {
      if (found) this.memo!.remember(name, hash);
      return found;
    }
    return found.then((record) => {
      if (record) this.memo!.remember(name, hash);
      return record;
    });
  }

  /**
   * The same value as hashSecret(secret, pepper), computed with the one-shot crypto.hash where no
   * pepper is set: it skips the Hash object per call, the largest single cost of a cached verification.
   */
  private digest(secret: string): Buffer {
    return this.pepper ? createHmac('sha256', this.pepper).update(secret).digest() : oneShotHash('sha256', secret, 'buffer');
  }

  private async loadByHash(hash: string): Promise<KeyRecord | undefined> {
    this.queries++;
    // raw SQL: the verify cache load on its own pg pool, the hot path's one query (measured in BENCHMARKS.md)
    const res = await this.pool.query<KeyRow>(KEY_BY_HASH_SQL, [hash]);
    const row = res.rows[0];
    return row ? toRecord(row) : undefined;
  }

  async stop(): Promise<void> {
    await Promise.all([this.limiter.stop(), this.workspaceLimiter.stop(), this.quota.stop()]);
    await this.listener?.stop();
    await this.touches.stop();
    await this.pool.end();
  }
}

export async function startKeyVerifier(opts: KeyVerifierOptions): Promise<KeyVerifier> {
  return new KeyVerifier(opts).start();
}
