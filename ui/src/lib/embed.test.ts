import { describe, expect, it } from 'vitest';
import { allows, targetOrigins } from './embed.js';

const SELF = 'https://gatehouse.example';

describe('where the framed portal posts its messages', () => {
  it('to the parent when a frame-ancestors source allows it, and nowhere when none does', () => {
    const sources = ['https://app.provider.example', "'self'", 'https://*.shop.example', 'http://127.0.0.1:8080'];
    expect(targetOrigins(sources, SELF, 'https://app.provider.example')).toEqual(['https://app.provider.example']);
    expect(targetOrigins(sources, SELF, SELF)).toEqual([SELF]);
    expect(targetOrigins(sources, SELF, 'https://eu.shop.example')).toEqual(['https://eu.shop.example']);
    expect(targetOrigins(sources, SELF, 'http://127.0.0.1:8080')).toEqual(['http://127.0.0.1:8080']);
    for (const parent of ['https://evil.example', 'http://app.provider.example', 'https://shop.example', 'http://127.0.0.1:8081', 'https://app.provider.example.evil.example']) {
      expect(targetOrigins(sources, SELF, parent), parent).toEqual([]);
    }
  });

  it('without the parent origin (Firefox): each listed origin written out in full, never a wildcard or *', () => {
    expect(targetOrigins(['https://app.provider.example/', "'self'", 'https://*.shop.example', 'https://a.example:*'], SELF, undefined)).toEqual([
      'https://app.provider.example',
      SELF,
    ]);
    expect(targetOrigins([], SELF, undefined)).toEqual([]);
  });

  it('matches ports as CSP does: the default port when none is written, any with *', () => {
    expect(allows('https://app.example', 'https://app.example:443', SELF)).toBe(true);
    expect(allows('https://app.example', 'https://app.example:8443', SELF)).toBe(false);
    expect(allows('https://app.example:*', 'https://app.example:8443', SELF)).toBe(true);
  });
});
