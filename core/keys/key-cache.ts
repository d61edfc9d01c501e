import type { KeyRecord } from './key-record.js';

export interface KeyCacheOptions {
  /** Most secrets remembered as found. */
  maxEntries?: number;
  /** Most hashes remembered as unknown: a flood of random secrets evicts only its own kind. */
  maxNegative?: number;
  /** Ceiling on how long a found key is trusted; NOTIFY is what makes changes visible at once. */
  ttlMs?: number;
  /** How long an unknown hash answers NOT_FOUND without asking PostgreSQL again. */
  negativeTtlMs?: number;
}

interface Entry {
  record: KeyRecord;
  until: number;
}

/**
 * Key records by secret hash. Two bounded maps (found / not found), evicted oldest-first (Map
 * keeps insertion order). An `epoch` counter closes the race between a load that read the old
 * row and a change notification that arrived while it was in flight: a load only fills the
 * cache if no invalidation happened since it began.
 */
export class KeyCache {
  private readonly found = new Map<string, Entry>();
  private readonly missing = new Map<string, number>();
  private readonly byPk = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, { epoch: number; promise: Promise<KeyRecord | undefined> }>();
  private epoch = 0;
  /** False while the change listener is down: nothing cached can be trusted then. */
  enabled = false;
  readonly maxEntries: number;
  readonly maxNegative: number;
  readonly ttlMs: number;
  readonly negativeTtlMs: number;

  constructor(opts: KeyCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.maxNegative = opts.maxNegative ?? 10_000;
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 2_000;
  }

  get size(): { found: number; missing: number } {
    return { found: this.found.size, missing: this.missing.size };
  }

  /**
   * The record for a hash: cached, or loaded once however many callers ask at the same moment.
   * `undefined` (not found) and a hit are both answers; only `load` failing rejects.
   */
  get(hash: string, load: (hash: string) => Promise<KeyRecord | undefined>, now = Date.now()): KeyRecord | undefined | Promise<KeyRecord | undefined> {
    if (this.enabled) {
      const hit = this.found.get(hash);
      if (hit) {
        if (hit.until > now) return hit.record;
        this.dropHash(hash, hit.record.pk);
      }
      const miss = this.missing.get(hash);
      if (miss !== undefined) {
        if (miss > now) return undefined;
        this.missing.delete(hash);
      }
    }
    // Joining a load is only safe if nothing changed since it began.
    const pending = this.inflight.get(hash);
    if (pending && pending.epoch === this.epoch) return pending.promise;
    const epoch = this.epoch;
    const p = load(hash).then(
      (record) => {
        if (this.inflight.get(hash)?.promise === p) this.inflight.delete(hash);
        if (this.enabled && epoch === this.epoch) this.store(hash, record, Date.now());
        return record;
      },
      (err: unknown) => {
        if (this.inflight.get(hash)?.promise === p) this.inflight.delete(hash);
        throw err;
      },
    );
    this.inflight.set(hash, { epoch, promise: p });
    return p;
  }

  private store(hash: string, record: KeyRecord | undefined, now: number) {
    if (!record) {
      if (this.missing.size >= this.maxNegative) this.missing.delete(this.missing.keys().next().value!);
      this.missing.set(hash, now + this.negativeTtlMs);
      return;
    }
    if (this.found.size >= this.maxEntries) {
      const [oldHash, oldest] = this.found.entries().next().value!;
      this.dropHash(oldHash, oldest.record.pk);
    }
    this.found.set(hash, { record, until: now + this.ttlMs });
    let hashes = this.byPk.get(record.pk);
    if (!hashes) this.byPk.set(record.pk, (hashes = new Set()));
    hashes.add(hash);
  }

  private dropHash(hash: string, pk: string) {
    this.found.delete(hash);
    const hashes = this.byPk.get(pk);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.byPk.delete(pk);
  }

  /**
   * A key changed: forget every secret of it. Unknown hashes are forgotten too, since the change
   * may have added a secret (a rotation) that someone already tried.
   */
  invalidateKey(pk: string) {
    this.epoch++;
    for (const hash of this.byPk.get(pk) ?? []) this.found.delete(hash);
    this.byPk.delete(pk);
    this.missing.clear();
  }

  /** Notifications may have been missed (listener reconnecting): forget everything. */
  clear() {
    this.epoch++;
    this.found.clear();
    this.missing.clear();
    this.byPk.clear();
  }
}
