import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { buildUi } from '../e2e/browser.js';
import { cookieOf, trpcFrom } from './from-address.js';

/**
 * Every response carries the browser-side protections: a CSP (the UI's own, or "nothing at all"
 * for JSON), nosniff, no Referer, no framing unless GATEHOUSE_FRAME_ANCESTORS allows it.
 * And signing out is a cookie mutation like any other: it needs the UI's CSRF header.
 */
const UI_DIST = fileURLToPath(new URL('../../ui/dist/index.html', import.meta.url));

let stack: Stack;
let framed: Stack;
beforeAll(async () => {
  // The UI is served only when built; test/e2e builds it the same way.
  if (!existsSync(UI_DIST)) await buildUi();
  stack = await startStack({ worker: false });
  framed = await startStack({ worker: false, env: { GATEHOUSE_FRAME_ANCESTORS: 'https://admin.example.com' } });
}, 120_000);
afterAll(async () => {
  await stack?.close();
  await framed?.close();
});

function expectCommon(headers: Headers) {
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
}

function directives(csp: string | null): Map<string, string> {
  return new Map((csp ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values.join(' ')]));
}

describe('security headers', () => {
  it('JSON responses of every kind allow nothing to load and no framing', async () => {
    const responses = [
      await fetch(`${stack.url}/healthz`),
      await fetch(`${stack.url}/api-keys`, { headers: { 'x-api-key': stack.bootstrapKey } }),
      await fetch(`${stack.url}/api-keys`),
      await fetch(`${stack.url}/no-such-route`),
      await fetch(`${stack.url}/openapi.json`),
      await fetch(`${stack.url}/trpc/system.whoami`, { headers: { 'x-api-key': stack.bootstrapKey } }),
      await fetch(`${stack.url}/trpc/system.whoami`),
      await fetch(`${stack.url}/api-keys`, { method: 'POST', headers: { 'x-api-key': stack.bootstrapKey, 'content-type': 'application/json' }, body: '{' }),
    ];
    for (const res of responses) {
      expectCommon(res.headers);
      expect(res.headers.get('content-security-policy'), res.url).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    // Even with framing of the UI allowed, the API is framed nowhere.
    expect(directives((await fetch(`${framed.url}/healthz`)).headers.get('content-security-policy')).get('frame-ancestors')).toBe("'none'");
  });

  it('the UI gets a policy of its own: scripts and styles from itself only, framed nowhere', async () => {
    for (const path of ['/', '/keys/some-key']) {
      const res = await fetch(stack.url + path, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expectCommon(res.headers);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const csp = directives(res.headers.get('content-security-policy'));
      expect(csp.get('default-src')).toBe("'self'");
      expect(csp.get('script-src')).toBe("'self'");
      expect(csp.get('style-src')).toBe("'self'");
      expect(csp.get('connect-src')).toBe("'self'");
      expect(csp.get('img-src')).toBe("'self' data:");
      expect(csp.get('base-uri')).toBe("'none'");
      expect(csp.get('form-action')).toBe("'self'");
      expect(csp.get('frame-ancestors')).toBe("'none'");
      // The built page has no inline script or style that this policy would block.
      const html = await res.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);
    }
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await (await fetch(stack.url + '/')).text())![1]!;
    const script = await fetch(stack.url + asset);
    expect(script.status).toBe(200);
    expectCommon(script.headers);
  });

  it('GATEHOUSE_FRAME_ANCESTORS lets the named origins frame the UI (and drops X-Frame-Options, which cannot say so)', async () => {
    const res = await fetch(framed.url + '/', { headers: { accept: 'text/html' } });
    expect(directives(res.headers.get('content-security-policy')).get('frame-ancestors')).toBe('https://admin.example.com');
    expect(res.headers.get('x-frame-options')).toBeNull();
  });
});

describe('session.signOut', () => {
  it('a cross-site POST without the CSRF header does not sign the user out', async () => {
    const cookie = cookieOf(await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signIn', { input: { key: stack.bootstrapKey } }));
    const forged = await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signOut', { cookie, csrf: false });
    expect(forged.status).toBe(403);
    expect(forged.headers['set-cookie']).toBeUndefined();
    expect((await trpcFrom('127.0.0.1', stack.url, 'query', 'session.me', { cookie })).body.result.data).toMatchObject({ keyId: 'bootstrap' });

    expect((await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signOut', { cookie })).status).toBe(200);
    expect((await trpcFrom('127.0.0.1', stack.url, 'query', 'session.me', { cookie })).body.result.data).toBeNull();
  });
});
