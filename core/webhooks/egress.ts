import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * The SSRF guard: webhook deliveries may not reach the operator's own network. Addresses are
 * judged after resolution, on the address actually connected to (see `guardedLookup`), so a
 * name that resolves to a public address at creation and a private one later (DNS rebinding)
 * is still refused. An operator opens a subnet with GATEHOUSE_EGRESS_ALLOW_CIDRS.
 */

interface Range {
  cidr: string;
  why: string;
}

const V4: Range[] = [
  { cidr: '0.0.0.0/8', why: 'a reserved ("this network") address' },
  { cidr: '10.0.0.0/8', why: 'a private address' },
  { cidr: '100.64.0.0/10', why: 'a CGNAT (shared address space) address' },
  { cidr: '127.0.0.0/8', why: 'a loopback address' },
  { cidr: '169.254.0.0/16', why: 'a link-local address (cloud metadata lives here)' },
  { cidr: '172.16.0.0/12', why: 'a private address' },
  { cidr: '192.0.0.0/24', why: 'a reserved (IETF protocol assignments) address' },
  { cidr: '192.0.2.0/24', why: 'a reserved (documentation) address' },
  { cidr: '192.88.99.0/24', why: 'a reserved (6to4 relay) address' },
  { cidr: '192.168.0.0/16', why: 'a private address' },
  { cidr: '198.18.0.0/15', why: 'a reserved (benchmarking) address' },
  { cidr: '198.51.100.0/24', why: 'a reserved (documentation) address' },
  { cidr: '203.0.113.0/24', why: 'a reserved (documentation) address' },
  { cidr: '224.0.0.0/4', why: 'a multicast address' },
  { cidr: '240.0.0.0/4', why: 'a reserved address' },
];

// Every block of the IANA special-purpose registries that is not globally reachable, plus
// multicast; test/security/ssrf-registry.test.ts holds the registries' rows and checks each.
const V6: Range[] = [
  { cidr: '::/128', why: 'the unspecified address' },
  { cidr: '::1/128', why: 'a loopback address' },
  { cidr: '::ffff:0:0/96', why: 'a reserved (IPv4-mapped) address' },
  { cidr: '::ffff:0:0:0/96', why: 'a reserved (IPv4-translated) address' },
  { cidr: '64:ff9b:1::/48', why: 'a reserved (local-use NAT64) address' },
  { cidr: '100::/64', why: 'a reserved (discard) address' },
  { cidr: '100:0:0:1::/64', why: 'a reserved (dummy prefix) address' },
  { cidr: '2001::/23', why: 'a reserved (IETF protocol assignments) address' },
  { cidr: '2001:db8::/32', why: 'a reserved (documentation) address' },
  { cidr: '2002::/16', why: 'a reserved (6to4) address' },
  { cidr: '3fff::/20', why: 'a reserved (documentation) address' },
  { cidr: '5f00::/16', why: 'a reserved (segment routing) address' },
  { cidr: 'fc00::/7', why: 'a private (unique local) address' },
  { cidr: 'fe80::/10', why: 'a link-local address' },
  { cidr: 'fec0::/10', why: 'a reserved (site-local) address' },
  { cidr: 'ff00::/8', why: 'a multicast address' },
];

const refusedV4 = V4.map((r) => ({ ...r, list: single(r.cidr, 'ipv4') }));
const refusedV6 = V6.map((r) => ({ ...r, list: single(r.cidr, 'ipv6') }));

function single(cidr: string, family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  const [net, bits] = cidr.split('/');
  list.addSubnet(net!, Number(bits), family);
  return list;
}

export class EgressRefused extends Error {
  override name = 'EgressRefused';
  readonly code = 'EGRESS_REFUSED';
  constructor(
    readonly address: string,
    readonly why: string,
    /** The name that resolved to `address`: then the message names it and keeps the address to itself. */
    readonly hostname?: string,
  ) {
    super(`${hostname ? notPublic(hostname) : `${address} is ${why}`}; an operator can allow it with GATEHOUSE_EGRESS_ALLOW_CIDRS`);
  }
}

/**
 * What the caller hears about a name that resolves to a refused address. Saying which address
 * (or which kind) would answer "what does db.internal resolve to?" for anyone who can create an
 * endpoint: a DNS oracle into the operator's network.
 */
function notPublic(hostname: string): string {
  return `${hostname} does not resolve to a public address`;
}

/** Parses GATEHOUSE_EGRESS_ALLOW_CIDRS (`10.1.0.0/16, fd00::/8`); a malformed entry is an error, not ignored. */
export function parseAllowList(value: string): BlockList {
  const list = new BlockList();
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [net, bits, extra] = raw.split('/');
    const family = isIP(net ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`GATEHOUSE_EGRESS_ALLOW_CIDRS: '${raw}' is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
    }
    list.addSubnet(net!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** For config validation at start-up: a typo in the allowlist stops the process instead of a request. */
export function isAllowListValid(value: string): boolean {
  try {
    parseAllowList(value);
    return true;
  } catch {
    return false;
  }
}

const allowLists = new Map<string, BlockList>();
function allowListFor(value: string): BlockList {
  let list = allowLists.get(value);
  if (!list) {
    list = parseAllowList(value);
    allowLists.set(value, list);
  }
  return list;
}

/** 16 bytes of an IPv6 address in any textual form (`::ffff:7f00:1`, `::ffff:127.0.0.1`, `fe80::1%eth0`). */
function ipv6Bytes(address: string): number[] | undefined {
  let s = address.split('%')[0]!;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (!isIPv4(v4[1]!)) return undefined;
    tail.push(...v4[1]!.split('.').map(Number));
    s = s.slice(0, -v4[1]!.length) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest];
  if (groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * The IPv4 address an IPv6 address carries to the IPv4 network, if any: IPv4-mapped
 * (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
 */
function embeddedIPv4(bytes: number[]): string | undefined {
  const zero = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const v4 = (at: number) => bytes.slice(at, at + 4).join('.');
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return v4(12);
  if (zero(0, 12) && !zero(12, 16) && !(zero(12, 15) && bytes[15] === 1)) return v4(12);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) return v4(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return v4(2);
  return undefined;
}

/** Why an address may not be reached, or undefined when it may. */
export function refusalReason(address: string, allowCidrs: string): string | undefined {
  const allow = allowListFor(allowCidrs);
  const family = isIP(address.split('%')[0]!);
  if (family === 0) return 'not an IP address';
  if (family === 4) {
    if (allow.check(address, 'ipv4')) return undefined;
    return refusedV4.find((r) => r.list.check(address, 'ipv4'))?.why;
  }
  const bytes = ipv6Bytes(address);
  if (!bytes) return 'not an IP address';
  const v4 = embeddedIPv4(bytes);
  if (v4) {
    const inner = refusalReason(v4, allowCidrs);
    if (inner) return `${inner.replace(/^an? /, 'an IPv6 form of a ')}`;
    // An operator who opened an IPv4 subnet opened it in every spelling.
    if (allow.check(v4, 'ipv4')) return undefined;
    // A public IPv4 address inside a block that is itself not globally reachable (IPv4-mapped,
    // 6to4) is still refused below; NAT64's 64:ff9b::/96 is reachable and passes.
  }
  const canonical = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':');
  if (allow.check(canonical, 'ipv6')) return undefined;
  return refusedV6.find((r) => r.list.check(canonical, 'ipv6'))?.why;
}

export function assertAddressAllowed(address: string, allowCidrs: string): void {
  const why = refusalReason(address, allowCidrs);
  if (why) throw new EgressRefused(address, why);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request / net.connect: resolves as Node would, then refuses the
 * connection if any resolved address is refused. The socket connects only to what this returns,
 * so there is no window between the check and the connect for a rebinding answer to slip into.
 */
export function guardedLookup(allowCidrs: string) {
  return (hostname: string, options: LookupAllOptions | { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = refusalReason(a.address, allowCidrs);
        if (why) return callback(Object.assign(new EgressRefused(a.address, why, hostname), { errno: 0, syscall: 'lookup' }), []);
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      if ((options as { all?: boolean }).all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** The host of a URL without IPv6 brackets: `[::1]` → `::1`. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export interface UrlCheck {
  httpsOnly: boolean;
  allowCidrs: string;
}

/**
 * Checks an endpoint URL when it is created or changed, so the caller hears at once why it would
 * never be delivered to. Names that do not resolve yet are accepted: the connect-time guard still
 * applies when they do. Returns a reason, or undefined when the URL is acceptable.
 */
export async function checkEndpointUrl(raw: string, opts: UrlCheck): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `scheme '${url.protocol.replace(':', '')}' is not allowed; use https (or http)`;
  if (opts.httpsOnly && url.protocol !== 'https:') return 'this endpoint is https-only; use an https:// URL';
  if (url.username || url.password) return 'credentials in the URL are not allowed; use a secret in the path or rely on the signature';
  const host = hostOf(url);
  if (isIP(host)) {
    const why = refusalReason(host, opts.allowCidrs);
    return why ? `${host} is ${why}; an operator can allow it with GATEHOUSE_EGRESS_ALLOW_CIDRS` : undefined;
  }
  const addresses = await new Promise<LookupAddress[]>((resolve) =>
    dnsLookup(host, { all: true }, (err, found) => resolve(err ? [] : found)),
  );
  if (addresses.some((a) => refusalReason(a.address, opts.allowCidrs))) {
    return `${notPublic(host)}; an operator can allow it with GATEHOUSE_EGRESS_ALLOW_CIDRS`;
  }
  return undefined;
}
