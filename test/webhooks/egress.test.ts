import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.js';
import { checkEndpointUrl, parseAllowList, refusalReason } from '../../core/webhooks/egress.js';

describe('SSRF guard: refusalReason', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local/],
    ['100.64.0.1', /CGNAT/],
    ['0.0.0.0', /reserved/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /reserved/],
    ['198.18.0.1', /reserved/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fc00::1', /unique local/],
    ['fd12:3456:789a::1', /unique local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /IPv6 form of a loopback/],
    ['::ffff:7f00:1', /IPv6 form of a loopback/],
    ['::ffff:a9fe:a9fe', /IPv6 form of a link-local/],
    ['::ffff:10.0.0.1', /IPv6 form of a private/],
    ['64:ff9b::a00:1', /IPv6 form of a private/],
    ['2002:7f00:1::', /IPv6 form of a loopback/],
    ['2001:db8::1', /documentation/],
  ])('refuses %s', (address, why) => {
    expect(refusalReason(address, '')).toMatch(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '64:ff9b::808:808', '2a00:1450:4001::200e'])(
    'allows the public address %s',
    (address) => {
      expect(refusalReason(address, '')).toBeUndefined();
    },
  );

  it('lets an operator allowlist subnets, IPv4-mapped forms included', () => {
    const allow = '127.0.0.0/8, fd00::/8';
    expect(refusalReason('127.0.0.1', allow)).toBeUndefined();
    expect(refusalReason('::ffff:127.0.0.1', allow)).toBeUndefined();
    expect(refusalReason('fd00::5', allow)).toBeUndefined();
    expect(refusalReason('10.0.0.1', allow)).toMatch(/private/);
    expect(refusalReason('::1', allow)).toMatch(/loopback/);
  });

  it('rejects a malformed allowlist instead of ignoring it', () => {
    expect(() => parseAllowList('10.0.0.0/33')).toThrow(/GATEHOUSE_EGRESS_ALLOW_CIDRS: '10.0.0.0\/33'/);
    expect(() => parseAllowList('intranet')).toThrow(/not a CIDR/);
    expect(() => parseAllowList('10.0.0.0/8,')).not.toThrow();
  });

  it('stops start-up on a malformed GATEHOUSE_EGRESS_ALLOW_CIDRS, naming the variable', () => {
    expect(() => loadConfig({ GATEHOUSE_EGRESS_ALLOW_CIDRS: '10.0.0.0/8,intranet' })).toThrow(ConfigError);
    expect(() => loadConfig({ GATEHOUSE_EGRESS_ALLOW_CIDRS: '10.0.0.0/8,intranet' })).toThrow(/GATEHOUSE_EGRESS_ALLOW_CIDRS: comma-separated CIDRs/);
    expect(loadConfig({ GATEHOUSE_EGRESS_ALLOW_CIDRS: '10.0.0.0/8, fd00::/8' }).GATEHOUSE_EGRESS_ALLOW_CIDRS).toBe('10.0.0.0/8, fd00::/8');
  });
});

describe('checkEndpointUrl', () => {
  const opts = { httpsOnly: false, allowCidrs: '' };
  it('explains each refusal', async () => {
    expect(await checkEndpointUrl('not a url', opts)).toMatch(/not a valid absolute URL/);
    expect(await checkEndpointUrl('ftp://example.com/x', opts)).toMatch(/scheme 'ftp'/);
    expect(await checkEndpointUrl('http://example.com/x', { ...opts, httpsOnly: true })).toMatch(/https-only/);
    expect(await checkEndpointUrl('https://user:pw@example.com/x', opts)).toMatch(/credentials/);
    expect(await checkEndpointUrl('http://10.0.0.7/hook', opts)).toMatch(/10\.0\.0\.7 is a private address/);
    expect(await checkEndpointUrl('http://169.254.169.254/latest/meta-data', opts)).toMatch(/link-local/);
    expect(await checkEndpointUrl('http://[::1]:8080/', opts)).toMatch(/::1 is a loopback/);
    expect(await checkEndpointUrl('http://[::ffff:127.0.0.1]/', opts)).toMatch(/IPv6 form of a loopback/);
    expect(await checkEndpointUrl('http://localhost:9/x', opts)).toMatch(/^localhost does not resolve to a public address/);
  });

  it('accepts public and allowlisted addresses', async () => {
    expect(await checkEndpointUrl('https://93.184.215.14/hook', opts)).toBeUndefined();
    expect(await checkEndpointUrl('http://127.0.0.1:3000/hook', { ...opts, allowCidrs: '127.0.0.0/8' })).toBeUndefined();
  });
});
