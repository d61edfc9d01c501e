import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';
import type { SigningAlg } from './signing-keys.js';
import { OAUTH_PREFIX, SIGNING_KEYS_CHANGED } from './notify.js';

export interface RingKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
}

/** The active key's private half, as node:crypto signs with it (core/oauth/jws.ts). */
export interface SignerKey {
  kid: string;
  alg: SigningAlg;
  key: KeyObject;
}

/** The signing keys as one API process holds them. */
export interface KeyRing {
  /** The key that signs; undefined only until the first one is made. */
  signer: SignerKey | undefined;
  /** Published keys (next, active, retired within their publication) by kid: what tokens verify against. */
  verifiers: ReadonlyMap<string, RingKey>;
  /** The JWKS document, as served. */
  jwks: { keys: JWK[] };
  /** Epoch ms after which the ring is reloaded even if nothing was heard (a retired key's publication ends). */
  until: number;
}

export interface WorkspaceOAuth {
  tokenTtlSeconds: number;
  audiences: string[];
}

/** Without a change heard, nothing here is trusted longer than this. */
const MAX_AGE_MS = 60_000;
/** An unknown kid reloads the ring at most this often: a flood of forged kids costs one query a second. */
const UNKNOWN_KID_RELOAD_MS = 1_000;

/**
 * The OAuth state of an API process: its signing keys and each workspace's token settings,
 * loaded on first use and dropped when the key-change channel says they changed (core/oauth/notify.ts).
 * The same epoch rule as the key cache (core/keys/key-cache.ts): a load only fills the cache if no
 * change was heard while it ran.
 */
export class OAuthCache {
  /** False while the change listener is down: nothing is cached then. */
  enabled = false;
  private ring: { epoch: number; promise: Promise<KeyRing>; loaded?: KeyRing } | undefined;
  private ringLoadedAt = 0;
  private readonly settings = new Map<string, { epoch: number; until: number; value: Promise<WorkspaceOAuth>; loaded?: WorkspaceOAuth }>();
  private ringEpoch = 0;
  private settingsEpoch = 0;

  /**
   * The signing keys when they are loaded and fresh, else undefined: the token endpoint asks on
   * every request, and answering without a promise saves it two microtask hops and a Promise.all.
   */
  freshRing(): KeyRing | undefined {
    const cached = this.ring;
    return cached?.loaded !== undefined && cached.epoch === this.ringEpoch && cached.loaded.until > Date.now() ? cached.loaded : undefined;
  }

  /** A workspace's token settings when they are loaded and fresh, else undefined (as freshRing). */
  freshWorkspace(workspaceId: string): WorkspaceOAuth | undefined {
    const hit = this.settings.get(workspaceId);
    return hit?.loaded !== undefined && hit.epoch === this.settingsEpoch && hit.until > Date.now() ? hit.loaded : undefined;
  }

  /** The signing keys, loaded by `load` when not cached (or stale). */
  async keyRing(load: () => Promise<KeyRing>): Promise<KeyRing> {
    const cached = this.ring;
    if (cached && cached.epoch === this.ringEpoch) {
      const ring = await cached.promise.catch(() => undefined);
      if (ring && ring.until > Date.now()) return ring;
      if (this.ring === cached) this.ring = undefined;
    }
    return this.loadRing(load);
  }

  /** A token names a kid this process does not know: perhaps a key made elsewhere since the last load. */
  async keyRingWithKid(kid: string, load: () => Promise<KeyRing>): Promise<KeyRing> {
    const ring = await this.keyRing(load);
    if (ring.verifiers.has(kid) || Date.now() - this.ringLoadedAt < UNKNOWN_KID_RELOAD_MS) return ring;
    return this.loadRing(load);
  }

  private loadRing(load: () => Promise<KeyRing>): Promise<KeyRing> {
    const epoch = this.ringEpoch;
    this.ringLoadedAt = Date.now();
    const promise = load().then((ring) => ({ ...ring, until: Math.min(ring.until, Date.now() + MAX_AGE_MS) }));
    if (this.enabled) {
      const entry: NonNullable<OAuthCache['ring']> = { epoch, promise };
      this.ring = entry;
      promise.then(
        (ring) => (entry.loaded = ring),
        () => {
          if (this.ring === entry) this.ring = undefined;
        },
      );
    }
    return promise;
  }

  async workspace(workspaceId: string, load: () => Promise<WorkspaceOAuth>): Promise<WorkspaceOAuth> {
    const hit = this.settings.get(workspaceId);
    if (hit && hit.epoch === this.settingsEpoch && hit.until > Date.now()) return hit.value;
    const value = load();
    if (this.enabled) {
      const entry: { epoch: number; until: number; value: Promise<WorkspaceOAuth>; loaded?: WorkspaceOAuth } = { epoch: this.settingsEpoch, until: Date.now() + MAX_AGE_MS, value };
      this.settings.set(workspaceId, entry);
      value.then(
        (loaded) => (entry.loaded = loaded),
        () => {
          if (this.settings.get(workspaceId) === entry) this.settings.delete(workspaceId);
        },
      );
    }
    return value;
  }

  /** A payload heard on the key-change channel; true when it was OAuth's. */
  onChange(payload: string): boolean {
    if (!payload.startsWith(OAUTH_PREFIX)) return false;
    if (payload === SIGNING_KEYS_CHANGED) {
      this.ringEpoch++;
      this.ring = undefined;
    } else {
      this.settingsEpoch++;
      this.settings.delete(payload.slice(`${OAUTH_PREFIX}workspace:`.length));
    }
    return true;
  }

  clear(): void {
    this.ringEpoch++;
    this.settingsEpoch++;
    this.ring = undefined;
    this.settings.clear();
  }
}
