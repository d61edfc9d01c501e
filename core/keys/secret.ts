import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 22 base62 characters carry 130.9 bits, over the 128 the spec asks for. */
const RANDOM_CHARS = 22;
const CHECKSUM_CHARS = 6;
const SECRET_RE = /^([a-z][a-z0-9]{1,15})_sk_(live|test)_([0-9A-Za-z]{28})$/;

export type KeyEnvironment = 'live' | 'test';

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting bytes above it keeps every character equally likely.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

function base62Fixed(value: number, width: number): string {
  let out = '';
  let n = value >>> 0;
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62Fixed(crc32(body), CHECKSUM_CHARS);
}

/** `<prefix>_sk_<env>_<random><checksum>`, as GitHub's token format: scanners and the server spot a typo offline. */
export function generateSecret(prefix: string, environment: KeyEnvironment): string {
  const body = `${prefix}_sk_${environment}_${randomBase62(RANDOM_CHARS)}`;
  return body + checksum(body);
}

/** True when the string has the generated shape and its checksum matches; no database involved. */
export function hasValidChecksum(secret: string): boolean {
  if (!SECRET_RE.test(secret)) return false;
  // Compared digit by digit from the end, as base62Fixed writes them, without building the digits. Every
  // request is authenticated and every verification checked through here (twice per verify call).
  let n = crc32(secret.slice(0, secret.length - CHECKSUM_CHARS)) >>> 0;
  for (let i = secret.length - 1; i >= secret.length - CHECKSUM_CHARS; i--) {
    if (secret.charCodeAt(i) !== BASE62.charCodeAt(n % 62)) return false;
    n = Math.floor(n / 62);
  }
  return true;
}

export function environmentOf(secret: string): KeyEnvironment | undefined {
  return SECRET_RE.exec(secret)?.[2] as KeyEnvironment | undefined;
}

/**
 * What lists show: four characters of the random part, never enough to guess the rest. The
 * prefix and environment of Gatehouse's own format are not secret; a secret of someone's choosing
 * (GATEHOUSE_BOOTSTRAP_KEY) has no such part, so only its first four characters show.
 */
export function maskSecret(secret: string): string {
  const m = SECRET_RE.exec(secret);
  return m ? `${m[1]}_sk_${m[2]}_${m[3]!.slice(0, 4)}***` : `${secret.slice(0, 4)}***`;
}

/** SHA-256 of a high-entropy secret; HMAC with the server pepper when one is configured. */
export function hashSecret(secret: string, pepper?: string): string {
  return (pepper ? createHmac('sha256', pepper) : createHash('sha256')).update(secret).digest('hex');
}

export function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
