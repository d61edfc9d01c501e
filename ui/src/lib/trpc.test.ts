import { afterEach, describe, expect, it, vi } from 'vitest';
import { trpc } from './trpc.js';

afterEach(() => vi.unstubAllGlobals());

describe('the UI tRPC client', () => {
  it('splits a large batch of queries into requests whose URLs a Node server accepts', async () => {
    // The keys page asks for every key's usage at once: 500 keys in one GET would be a URL of
    // ~25 KB, over Node's 16 KB header limit (431), and every key would lose its figures.
    const urls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string | URL) => {
        const url = String(input);
        urls.push(url);
        const n = new URL(url, 'http://ui.test').searchParams.get('batch') ? url.split('/trpc/')[1]!.split('?')[0]!.split(',').length : 1;
        const body = Array.from({ length: n }, () => ({ result: { data: { callsToday: 1, callsMonth: 1, rateLimits: [], creditsRemaining: null } } }));
        return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
      }),
    );
    const ids = Array.from({ length: 500 }, (_, i) => `customer-key-${String(i).padStart(4, '0')}`);
    const answers = await Promise.all(ids.map((id) => trpc.usage.key.query({ id })));
    expect(answers).toHaveLength(500);
    expect(urls.length).toBeGreaterThan(1);
    for (const url of urls) expect(url.length).toBeLessThanOrEqual(8_000);
  });
});
