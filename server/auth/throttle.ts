import { isIPv6 } from 'node:net';
import { HttpError } from '../../core/errors.js';

/** Failed authentications one client address may make in a window before it is refused outright. */
export const MAX_FAILURES_PER_ADDRESS = 10;
/** Failed authentications with one key prefix, from any addresses, before the prefix counts as under attack. */
export const MAX_FAILURES_PER_PREFIX = 50;
export const FAILURE_WINDOW_MS = 60_000;
/** Bounds the memory a flood from many addresses can take; the oldest entries go first. */
const MAX_TRACKED = 10_000;

/** A generated secret's `<prefix>_sk_<env>_`, the part before its random body; one bucket for anything else. */
const PREFIX_RE = /^[a-z][a-z0-9]{1,15}_sk_(?:live|test)_/;

/**
 * Throttles guessing of API keys at Gatehouse's own API and at UI sign-in: x-api-key on REST and
 * tRPC, and `session.signIn`. State is per process (an in-memory sliding window), so behind N API
 * processes an address gets up to N times the allowance; the point is to make online guessing
 * slow, not to count exactly.
 *
 * - An address with MAX_FAILURES_PER_ADDRESS failures in the window is refused (429), even with a
 *   valid key, until the oldest of them leaves the window: otherwise the refusal would only tell a
 *   guesser which of its guesses was right.
 * - A key prefix with MAX_FAILURES_PER_PREFIX failures in the window (a guess spread over many
 *   addresses) refuses addresses that have failed at least once in the window. Addresses with no
 *   failures are never refused for the prefix: every key of a workspace shares its prefix, and
 *   anyone can send it, so refusing them would let an attacker lock a whole workspace out.
 *
 * While no address has failed within the window a request costs a size check; otherwise one Map
 * lookup by its address, and a prefix look-up only for an address that has failed.
 */
export class AuthThrottle {
  /** Failure times, oldest first, at most the limit's worth: the window only needs the last N. */
  private readonly byAddress = new Map<string, number[]>();
  private readonly byPrefix = new Map<string, number[]>();
  private lastFailure = 0;

  /** False while no address has failed within the window: then no request needs a look-up at all. */
  get active(): boolean {
    if (this.byAddress.size === 0) return false;
    if (Date.now() - this.lastFailure < FAILURE_WINDOW_MS) return true;
    // Every failure held is older than the window, so every entry is stale.
    this.byAddress.clear();
    this.byPrefix.clear();
    return false;
  }

  /** Seconds until this address may try again, or 0 when it may try now. */
  retryAfter(ip: string, secret: string, now = Date.now()): number {
    if (this.byAddress.size === 0) return 0;
    const own = this.byAddress.get(addressBucket(ip));
    if (!own) return 0;
    const wait = waitFor(own, MAX_FAILURES_PER_ADDRESS, now);
    if (wait > 0) return wait;
    if (!own.some((t) => t > now - FAILURE_WINDOW_MS)) return 0;
    const prefix = this.byPrefix.get(prefixOf(secret));
    return prefix ? waitFor(prefix, MAX_FAILURES_PER_PREFIX, now) : 0;
  }

  /** Records a failed authentication. */
  fail(ip: string, secret: string, now = Date.now()): void {
    this.lastFailure = Math.max(this.lastFailure, now);
    push(this.byAddress, addressBucket(ip), MAX_FAILURES_PER_ADDRESS, now);
    push(this.byPrefix, prefixOf(secret), MAX_FAILURES_PER_PREFIX, now);
  }

  /** 429 with Retry-After, naming no key and no count a guesser could use. */
  static refusal(seconds: number): HttpError {
    return new HttpError(429, 'too_many_attempts', `Too many failed authentication attempts; retry in ${seconds} s`, undefined, {
      'Retry-After': String(seconds),
    });
  }
}

function waitFor(times: number[], max: number, now: number): number {
  if (times.length < max) return 0;
  const until = times[times.length - max]! + FAILURE_WINDOW_MS;
  return until > now ? Math.ceil((until - now) / 1000) : 0;
}

function push(map: Map<string, number[]>, key: string, max: number, now: number): void {
  let times = map.get(key);
  if (times) {
    // Re-inserted so the Map's order stays oldest-touched first, for eviction.
    map.delete(key);
  } else {
    if (map.size >= MAX_TRACKED) evictStale(map, now);
    times = [];
  }
  times.push(now);
  if (times.length > max) times.shift();
  map.set(key, times);
}

/** Drops entries whose failures all left the window, or the oldest one when none has. */
function evictStale(map: Map<string, number[]>, now: number): void {
  for (const [key, times] of map) {
    if (times[times.length - 1]! <= now - FAILURE_WINDOW_MS) map.delete(key);
  }
  if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value!);
}

function prefixOf(secret: string): string {
  return PREFIX_RE.exec(secret)?.[0] ?? '';
}

/**
 * An IPv6 client usually holds a whole /64, so one address per guess would walk around a
 * per-address limit: IPv6 addresses are counted by their /64. IPv4 (also IPv4-mapped) as is.
 */
export function addressBucket(ip: string): string {
  if (!isIPv6(ip) || ip.startsWith('::ffff:')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}

const throttles = new WeakMap<object, AuthThrottle>();

/** The throttle of one API process, keyed by its KeyVerifier (one per process, and per test stack). */
export function authThrottle(deps: { verifier: object }): AuthThrottle {
  let throttle = throttles.get(deps.verifier);
  if (!throttle) throttles.set(deps.verifier, (throttle = new AuthThrottle()));
  return throttle;
}
