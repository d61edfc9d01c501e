import { sign, type KeyObject } from 'node:crypto';
import type { SigningAlg } from './signing-keys.js';

const b64url = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url');

/** A signing key signs thousands of tokens with one header: its encoding is kept, per key id (a handful live at once). */
const headers = new Map<string, string>();
function encodedHeader(header: { alg: SigningAlg; kid: string; typ: string }): string {
  const id = `${header.alg}.${header.kid}.${header.typ}`;
  let encoded = headers.get(id);
  if (encoded === undefined) {
    if (headers.size >= 64) headers.clear();
    headers.set(id, (encoded = b64url(header)));
  }
  return encoded;
}

/** Bytes of each of R and S in an ES256 signature (P-256). */
const ES256_HALF = 32;

/**
 * An ECDSA signature from DER (SEQUENCE of INTEGER r, INTEGER s) to JWS's R‖S (RFC 7518 §3.4):
 * each integer without its sign byte, left-padded to `half` bytes.
 */
export function derToP1363(der: Buffer, half: number): Buffer {
  const out = Buffer.alloc(half * 2);
  // The SEQUENCE's length is one byte for P-256 (at most 72), long form otherwise.
  let at = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  for (const offset of [0, half]) {
    if (der[at] !== 0x02) throw new Error('not a DER ECDSA signature');
    const length = der[at + 1]!;
    let start = at + 2;
    let n = length;
    while (n > half && der[start] === 0) {
      start++;
      n--;
    }
    if (n > half) throw new Error('not a DER ECDSA signature');
    der.copy(out, offset + half - n, start, start + n);
    at += 2 + length;
  }
  return out;
}

/** A compact JWS's first two parts (`header.payload`), as a string and as the bytes its signature covers. */
export function signingInput(header: { alg: SigningAlg; kid: string; typ: string }, payload: object): { input: string; data: Buffer } {
  const input = `${encodedHeader(header)}.${b64url(payload)}`;
  // Base64url is ASCII: latin1 encodes it byte for byte, without UTF-8's scan.
  return { input, data: Buffer.from(input, 'latin1') };
}

/**
 * The JWS signature of `data` (RFC 7515), base64url, signed in this thread with node:crypto: one
 * signature per token is the token endpoint's main cost, and WebCrypto (jose's SignJWT) adds a
 * thread-pool hop and promises to each. The key is passed bare: node:crypto's options form
 * (`dsaEncoding`) prepares the key again on every call, which costs as much as the signature, so
 * ES256's DER signature is converted here instead. EdDSA is Ed25519.
 */
export function jwsSignature(alg: SigningAlg, data: Buffer, key: KeyObject): string {
  const signature = alg === 'ES256' ? derToP1363(sign('sha256', data, key), ES256_HALF) : sign(null, data, key);
  return signature.toString('base64url');
}
