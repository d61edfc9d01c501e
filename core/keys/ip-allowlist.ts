import { BlockList, isIP } from 'node:net';

/**
 * A key's IP allowlist (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`) compiled once into a
 * BlockList, which matches IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) against IPv4 ranges.
 * An empty list allows every address.
 */
export interface IpAllowlist {
  allows(ip: string | undefined): boolean;
}

const ALLOW_ALL: IpAllowlist = { allows: () => true };

/** Throws on an entry that is neither an address nor a CIDR; callers validate on write. */
export function compileAllowlist(entries: readonly string[]): IpAllowlist {
  if (entries.length === 0) return ALLOW_ALL;
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseCidr(entry);
    if (!parsed) throw new Error(`not an IP address or CIDR range: ${entry.slice(0, 64)}`);
    if (parsed.prefix === undefined) list.addAddress(parsed.address, parsed.family);
    else list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return {
    allows(ip) {
      if (!ip) return false;
      const family = isIP(ip);
      if (family === 0) return false;
      return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

export function parseCidr(entry: string): { address: string; prefix?: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, extra] = entry.trim().split('/');
  if (!address || extra !== undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  const fam = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) return { address, family: fam };
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: fam };
}

/** For the key service's input validation: true when every entry compiles. */
export function isValidAllowlistEntry(entry: string): boolean {
  return parseCidr(entry) !== undefined;
}
