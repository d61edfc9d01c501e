import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEndpointUrl, refusalReason } from '../../core/webhooks/egress.js';
import { postWebhook } from '../../core/webhooks/http.js';
import { startStack, type Stack } from '../harness.js';

/**
 * The IANA special-purpose address registries, row by row, with each row's "Globally Reachable"
 * column (N/A and the blank cells of terminated rows count as not reachable):
 * https://www.iana.org/assignments/iana-ipv4-special-registry/ and
 * https://www.iana.org/assignments/iana-ipv6-special-registry/ (2025 edition, RFC 9780's dummy
 * prefix the newest row). When IANA adds a row, add it here: the test then says whether the
 * guard needs it too.
 */
type Reachable = 'True' | 'False' | 'N/A' | '';
interface Row {
  block: string;
  name: string;
  reachable: Reachable;
  /** For reachable rows whose first address embeds a refused IPv4 address (NAT64). */
  sample?: string;
}

const IPV4: Row[] = [
  { block: '0.0.0.0/8', name: '"This network"', reachable: 'False' },
  { block: '0.0.0.0/32', name: '"This host on this network"', reachable: 'False' },
  { block: '10.0.0.0/8', name: 'Private-Use', reachable: 'False' },
  { block: '100.64.0.0/10', name: 'Shared Address Space', reachable: 'False' },
  { block: '127.0.0.0/8', name: 'Loopback', reachable: 'False' },
  { block: '169.254.0.0/16', name: 'Link Local', reachable: 'False' },
  { block: '172.16.0.0/12', name: 'Private-Use', reachable: 'False' },
  { block: '192.0.0.0/24', name: 'IETF Protocol Assignments', reachable: 'False' },
  { block: '192.0.0.0/29', name: 'IPv4 Service Continuity Prefix', reachable: 'False' },
  { block: '192.0.0.8/32', name: 'IPv4 dummy address', reachable: 'False' },
  { block: '192.0.0.9/32', name: 'Port Control Protocol Anycast', reachable: 'True' },
  { block: '192.0.0.10/32', name: 'Traversal Using Relays around NAT Anycast', reachable: 'True' },
  { block: '192.0.0.170/32', name: 'NAT64/DNS64 Discovery', reachable: 'False' },
  { block: '192.0.0.171/32', name: 'NAT64/DNS64 Discovery', reachable: 'False' },
  { block: '192.0.2.0/24', name: 'Documentation (TEST-NET-1)', reachable: 'False' },
  { block: '192.31.196.0/24', name: 'AS112-v4', reachable: 'True' },
  { block: '192.52.193.0/24', name: 'AMT', reachable: 'True' },
  { block: '192.88.99.0/24', name: 'Deprecated (6to4 Relay Anycast)', reachable: '' },
  { block: '192.88.99.2/32', name: '6a44-relay anycast address', reachable: 'False' },
  { block: '192.168.0.0/16', name: 'Private-Use', reachable: 'False' },
  { block: '192.175.48.0/24', name: 'Direct Delegation AS112 Service', reachable: 'True' },
  { block: '198.18.0.0/15', name: 'Benchmarking', reachable: 'False' },
  { block: '198.51.100.0/24', name: 'Documentation (TEST-NET-2)', reachable: 'False' },
  { block: '203.0.113.0/24', name: 'Documentation (TEST-NET-3)', reachable: 'False' },
  { block: '240.0.0.0/4', name: 'Reserved', reachable: 'False' },
  { block: '255.255.255.255/32', name: 'Limited Broadcast', reachable: 'False' },
];

const IPV6: Row[] = [
  { block: '::1/128', name: 'Loopback Address', reachable: 'False' },
  { block: '::/128', name: 'Unspecified Address', reachable: 'False' },
  { block: '::ffff:0:0/96', name: 'IPv4-mapped Address', reachable: 'False' },
  { block: '64:ff9b::/96', name: 'IPv4-IPv6 Translat.', reachable: 'True', sample: '64:ff9b::808:808' },
  { block: '64:ff9b:1::/48', name: 'IPv4-IPv6 Translat.', reachable: 'False' },
  { block: '100::/64', name: 'Discard-Only Address Block', reachable: 'False' },
  { block: '100:0:0:1::/64', name: 'Dummy IPv6 Prefix', reachable: 'False' },
  { block: '2001::/23', name: 'IETF Protocol Assignments', reachable: 'False' },
  { block: '2001::/32', name: 'TEREDO', reachable: 'N/A' },
  { block: '2001:1::1/128', name: 'Port Control Protocol Anycast', reachable: 'True' },
  { block: '2001:1::2/128', name: 'Traversal Using Relays around NAT Anycast', reachable: 'True' },
  { block: '2001:1::3/128', name: 'DNS-SD Service Registration Protocol Anycast', reachable: 'True' },
  { block: '2001:2::/48', name: 'Benchmarking', reachable: 'False' },
  { block: '2001:3::/32', name: 'AMT', reachable: 'True' },
  { block: '2001:4:112::/48', name: 'AS112-v6', reachable: 'True' },
  { block: '2001:10::/28', name: 'Deprecated (previously ORCHID)', reachable: '' },
  { block: '2001:20::/28', name: 'ORCHIDv2', reachable: 'True' },
  { block: '2001:30::/28', name: 'Drone Remote ID Protocol Entity Tags (DETs) Prefix', reachable: 'True' },
  { block: '2001:db8::/32', name: 'Documentation', reachable: 'False' },
  { block: '2002::/16', name: '6to4', reachable: 'N/A' },
  { block: '2620:4f:8000::/48', name: 'Direct Delegation AS112 Service', reachable: 'True' },
  { block: '3fff::/20', name: 'Documentation', reachable: 'False' },
  { block: '5f00::/16', name: 'Segment Routing (SRv6) SIDs', reachable: 'False' },
  { block: 'fc00::/7', name: 'Unique-Local', reachable: 'False' },
  { block: 'fe80::/10', name: 'Link-Local Unicast', reachable: 'False' },
];

/** Not in the special-purpose registries (they have registries of their own) but never a webhook receiver. */
const MULTICAST: Row[] = [
  { block: '224.0.0.0/4', name: 'IPv4 multicast', reachable: 'False' },
  { block: 'ff00::/8', name: 'IPv6 multicast', reachable: 'False' },
];

// ---------------------------------------------------------------- address arithmetic

const isV6 = (block: string) => block.includes(':');

function v6ToBig(address: string): bigint {
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigToV6(n: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((n >> BigInt((7 - i) * 16)) & 0xffffn).toString(16)).join(':');
}

const v4ToBig = (address: string) => address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
const bigToV4 = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');

interface Range {
  first: bigint;
  last: bigint;
  v6: boolean;
}

function range(block: string): Range {
  const [net, bits] = block.split('/') as [string, string];
  const v6 = isV6(block);
  const width = v6 ? 128n : 32n;
  const first = v6 ? v6ToBig(net) : v4ToBig(net);
  const size = 1n << (width - BigInt(bits));
  return { first, last: first + size - 1n, v6 };
}

const text = (r: Range, n: bigint) => (r.v6 ? bigToV6(n) : bigToV4(n));

/** First, middle and last address of a block. */
function probes(block: string): string[] {
  const r = range(block);
  return [...new Set([r.first, r.first + (r.last - r.first) / 2n, r.last])].map((n) => text(r, n));
}

const within = (inner: string, outer: string) => {
  const a = range(inner);
  const b = range(outer);
  return a.v6 === b.v6 && a.first >= b.first && a.last <= b.last;
};

// ---------------------------------------------------------------- the table

describe('SSRF guard against the IANA special-purpose registries', () => {
  const notReachable = [...IPV4, ...IPV6, ...MULTICAST].filter((r) => r.reachable !== 'True');
  const reachable = [...IPV4, ...IPV6].filter((r) => r.reachable === 'True');

  it.each(notReachable.map((r) => [r.block, r.name, r.reachable || 'blank'] as const))(
    'refuses every address of %s (%s, globally reachable: %s)',
    (block) => {
      for (const address of probes(block)) {
        expect(refusalReason(address, ''), `${address} of ${block}`).toBeDefined();
      }
    },
  );

  it.each(reachable.map((r) => [r.block, r.name] as const))('does not refuse the globally reachable %s (%s) unless a block around it is not', (block) => {
    const row = reachable.find((r) => r.block === block)!;
    const parent = notReachable.find((r) => r.block !== block && within(block, r.block));
    const address = row.sample ?? probes(block)[0]!;
    if (parent) expect(refusalReason(address, ''), `${address} lies in ${parent.block}`).toBeDefined();
    else expect(refusalReason(address, ''), address).toBeUndefined();
  });

  it.each([
    ['::ffff:0:0/96 (IPv4-mapped), public IPv4 inside', '::ffff:8.8.8.8', /IPv4-mapped/],
    ['::ffff:0:0:0/96 (IPv4-translated)', '::ffff:0:808:808', /IPv4-translated/],
    ['::ffff:0:0:0/96 (IPv4-translated), loopback inside', '::ffff:0:7f00:1', /IPv4-translated/],
    ['64:ff9b:1::/48 (local-use NAT64)', '64:ff9b:1::808:808', /local-use NAT64/],
    ['64:ff9b:1::/48 (local-use NAT64), loopback inside', '64:ff9b:1::7f00:1', /local-use NAT64/],
    ['2002::/16 (6to4), public IPv4 inside', '2002:808:808::1', /6to4/],
  ])('refuses %s: %s', (_what, address, why) => {
    expect(refusalReason(address, '')).toMatch(why);
  });

  it('still allows public addresses, and what an operator opened in any spelling', () => {
    for (const address of ['8.8.8.8', '2606:4700:4700::1111', '64:ff9b::808:808']) expect(refusalReason(address, '')).toBeUndefined();
    expect(refusalReason('::ffff:10.1.2.3', '10.0.0.0/8')).toBeUndefined();
    expect(refusalReason('64:ff9b:1::1', '64:ff9b:1::/48')).toBeUndefined();
  });
});

// ---------------------------------------------------------------- no DNS oracle

describe('a refused name does not say what it resolved to', () => {
  let stack: Stack;
  beforeAll(async () => {
    // As in production: no loopback allowlist.
    stack = await startStack({ worker: false, env: { GATEHOUSE_EGRESS_ALLOW_CIDRS: '' } });
  });
  afterAll(() => stack.close());

  const leaks = /127\.0\.0\.1|::1|loopback|resolves to \S*\d/;

  it('POST /webhooks with a name that resolves to 127.0.0.1 says the address is not public, and nothing else', async () => {
    const { secret: key } = await stack.workspace(['admin']);
    const res = await stack.rest('POST', '/webhooks', { key, body: { url: 'http://localhost:8080/hook' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_url', field: 'url' });
    expect(res.body.error.message).toBe('url: localhost does not resolve to a public address; an operator can allow it with GATEHOUSE_EGRESS_ALLOW_CIDRS');
    expect(res.body.error.message).not.toMatch(leaks);
  });

  it('checkEndpointUrl and the delivery attempt say the same', async () => {
    const why = await checkEndpointUrl('https://localhost/hook', { httpsOnly: false, allowCidrs: '' });
    expect(why).toMatch(/^localhost does not resolve to a public address/);
    expect(why).not.toMatch(leaks);
    const attempt = await postWebhook('http://localhost:9/hook', {}, '{}', { allowCidrs: '', timeoutMs: 5_000 });
    expect(attempt.statusCode).toBe(0);
    expect(attempt.error).toMatch(/^refused: localhost does not resolve to a public address/);
    expect(attempt.error).not.toMatch(leaks);
  });

  it('a literal address the caller typed is still named with the reason', async () => {
    expect(await checkEndpointUrl('http://127.0.0.1/hook', { httpsOnly: false, allowCidrs: '' })).toMatch(/^127\.0\.0\.1 is a loopback address/);
  });
});
