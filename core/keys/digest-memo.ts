import { hash, randomBytes } from 'node:crypto';

/**
 * The stored hash of secrets that were found, remembered under a cheaper one: a verification
 * hashes two secrets (the caller's and the one it checks), and with a pepper each is an HMAC that
 * cost ~2.4 µs in the server, while the salted one-shot SHA-256 that finds it here costs ~0.5 µs
 * (BENCHMARKS.md, "The verify path's HMACs remembered").
 *
 * No secret is kept: the memo holds SHA-256(secret ‖ salt) with a random salt made by this process
 * and never written anywhere, and the HMAC that PostgreSQL and the key cache already hold. Only
 * secrets whose key was found are remembered, so a flood of made-up secrets cannot push out the
 * keys in use; the memo answers which hash to look up, never whether a key is valid (the key cache
 * and its change notifications still decide that), so a revoked key's entry is harmless.
 */
export class DigestMemo {
  private readonly salt = randomBytes(32).toString('base64');
  private readonly hashes = new Map<string, string>();

  constructor(private readonly maxEntries: number) {}

  /** The memo's own name for a secret: 32 bytes as a latin1 string, a cheap Map key. */
  nameOf(secret: string): string {
    return hash('sha256', secret + this.salt, 'binary');
  }

  get(name: string): string | undefined {
    return this.hashes.get(name);
  }

  /** Remembers a found secret's stored hash; the oldest entry goes first when full. */
  remember(name: string, storedHash: string): void {
    if (this.hashes.has(name)) return;
    if (this.hashes.size >= this.maxEntries) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(name, storedHash);
  }

  get size(): number {
    return this.hashes.size;
  }
}
