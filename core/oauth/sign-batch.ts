import type { KeyObject } from 'node:crypto';
import { jwsSignature, signingInput } from './jws.js';
import type { SigningAlg } from './signing-keys.js';

interface Job {
  alg: SigningAlg;
  data: Buffer;
  key: KeyObject;
  resolve(signature: string): void;
  reject(err: unknown): void;
}

let pending: Job[] = [];

/** Makes the turn's signatures back to back; each token's request goes on once they are all made. */
function signPending(): void {
  const jobs = pending;
  pending = [];
  for (const job of jobs) {
    try {
      job.resolve(jwsSignature(job.alg, job.data, job.key));
    } catch (err) {
      job.reject(err);
    }
  }
}

/**
 * A compact JWS (RFC 7515) of `payload`, signed at the end of this turn of the event loop
 * (setImmediate, after its I/O callbacks) together with every other signature asked for in it.
 *
 * Why: a P-256 signature reads OpenSSL's precomputed multiples of the base point (~150 KB) and its
 * own code and state. Between two token requests, the rest of a request (HTTP parsing, the key
 * check, the socket write in the kernel) evicts them, and a signature cost about twice what it
 * costs in a loop: 64–100 µs against 38–45 µs with 2 MB touched between signatures, on a 2 vCPU
 * Xeon (BENCHMARKS.md, 2026-12-03). Made together, only the first signature of a turn finds a cold
 * cache. Under load a turn carries several token requests; alone, a request waits for nothing but
 * the end of the turn it arrived in.
 */
export function signCompactBatched(header: { alg: SigningAlg; kid: string; typ: string }, payload: object, key: KeyObject): Promise<string> {
  const { input, data } = signingInput(header, payload);
  return new Promise<string>((resolve, reject) => {
    if (pending.length === 0) setImmediate(signPending);
    pending.push({ alg: header.alg, data, key, resolve: (signature) => resolve(`${input}.${signature}`), reject });
  });
}
