import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, RESPONSE_EXCERPT_BYTES } from '../../core/webhooks/http.js';

let server: Server;
let base: string;
const hits: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    if (req.url === '/hang') return; // never answers
    if (req.url === '/big') {
      res.writeHead(500);
      res.end('y'.repeat(RESPONSE_EXCERPT_BYTES * 3));
      return;
    }
    if (req.url === '/redirect') {
      res.writeHead(307, { location: '/target' });
      res.end();
      return;
    }
    // /ok answers after 50 ms, so the measured duration has a floor a test can check.
    setTimeout(
      () => {
        res.writeHead(200, { 'retry-after': '7' });
        res.end('fine');
      },
      req.url === '/ok' ? 50 : 0,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const allow = { timeoutMs: 15_000, allowCidrs: '127.0.0.0/8,::1/128' };

describe('postWebhook', () => {
  it('returns status, body excerpt, duration and Retry-After', async () => {
    const r = await postWebhook(`${base}/ok`, { 'webhook-id': 'msg_1' }, '{}', allow);
    expect(r).toMatchObject({ statusCode: 200, responseExcerpt: 'fine', retryAfter: '7' });
    expect(r.durationMs).toBeGreaterThanOrEqual(45);
  });

  it('gives up on an endpoint that does not answer within the timeout, as status 0', async () => {
    const started = Date.now();
    const r = await postWebhook(`${base}/hang`, {}, '{}', { ...allow, timeoutMs: 300 });
    expect(r.statusCode).toBe(0);
    expect(r.error).toMatch(/^timed out: no complete answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('keeps at most 20 KB of the answer', async () => {
    const r = await postWebhook(`${base}/big`, {}, '{}', allow);
    expect(r.statusCode).toBe(500);
    expect(r.responseExcerpt.length).toBe(RESPONSE_EXCERPT_BYTES);
  });

  it('does not follow redirects', async () => {
    const before = hits.filter((h) => h === '/target').length;
    const r = await postWebhook(`${base}/redirect`, {}, '{}', allow);
    expect(r.statusCode).toBe(307);
    expect(hits.filter((h) => h === '/target').length).toBe(before);
  });

  it('refuses loopback by name and by literal unless allowlisted, before any byte is sent', async () => {
    const port = new URL(base).port;
    const before = hits.length;
    const byName = await postWebhook(`http://localhost:${port}/ok`, {}, '{}', { ...allow, allowCidrs: '' });
    expect(byName).toMatchObject({ statusCode: 0, error: expect.stringMatching(/^refused: localhost does not resolve to a public address/) });
    const byLiteral = await postWebhook(`http://127.0.0.1:${port}/ok`, {}, '{}', { ...allow, allowCidrs: '' });
    expect(byLiteral).toMatchObject({ statusCode: 0, error: 'refused: 127.0.0.1 is a loopback address' });
    const mapped = await postWebhook(`http://[::ffff:127.0.0.1]:${port}/ok`, {}, '{}', { ...allow, allowCidrs: '' });
    expect(mapped).toMatchObject({ statusCode: 0, error: expect.stringMatching(/IPv6 form of a loopback/) });
    expect(hits.length).toBe(before);
  });

  it('reports a refused connection as status 0 with a readable error', async () => {
    const r = await postWebhook('http://127.0.0.1:1/x', {}, '{}', allow);
    expect(r).toMatchObject({ statusCode: 0, error: 'connection refused' });
  });
});
