import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';

let stack: Stack;
let ws: { workspaceId: string; secret: string; keyId: string };
let outsider: { workspaceId: string; secret: string; keyId: string };
const BASE = Date.parse('2026-11-01T00:00:00Z');

interface Entry {
  id: string;
  time: string;
  key_id: string | null;
  route: string;
  status: number;
}

beforeAll(async () => {
  stack = await startStack({ worker: false, usage: { flushIntervalMs: 60_000 } });
  ws = await stack.workspace(['admin']);
  outsider = await stack.workspace(['admin']);
  // 30 calls, one a minute: keys alternate a/b, routes cycle through three, every fifth is a 404, #29 a 502.
  for (let i = 0; i < 30; i++) {
    stack.deps.usage.record({
      workspaceId: ws.workspaceId,
      keyId: i % 2 === 0 ? 'key-a' : 'key-b',
      source: 'service',
      method: i % 3 === 2 ? 'POST' : 'GET',
      route: ['/products', '/products/{id}', '/orders'][i % 3]!,
      status: i === 29 ? 502 : i % 5 === 0 ? 404 : 200,
      latencyMs: 10 + i,
      at: new Date(BASE + i * 60_000),
    });
  }
  await stack.deps.usage.flush();
});
afterAll(() => stack.close());

const range = `from=2026-11-01T00:00:00Z&to=2026-11-01T01:00:00Z`;
const get = async (q: string, key = ws.secret) => stack.rest('GET', `/logs?${range}&${q}`, { key });

describe('GET /logs', () => {
  it('pages newest first with a cursor, every record once', async () => {
    const seen: Entry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.entries);
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen).toHaveLength(30);
    expect(new Set(seen.map((e) => e.id)).size).toBe(30);
    const times = seen.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(seen[0]).toMatchObject({ time: '2026-11-01T00:29:00.000Z', status: 502, key_id: 'key-b', route: '/orders', method: 'POST', latency_ms: 39, source: 'service' });
  });

  it("pages with every list's cursor, and a millisecond cursor from before that still continues", async () => {
    const first = await get('limit=3');
    const decoded = JSON.parse(Buffer.from(first.body.next_cursor, 'base64url').toString());
    const last = first.body.entries[2] as Entry;
    expect(decoded).toEqual(['2026-11-01T00:27:00.000000Z', last.id]);
    const next = await get(`limit=3&cursor=${first.body.next_cursor}`);
    // What GET /logs returned before it paged with page(): the time to the millisecond.
    const old = Buffer.from(JSON.stringify(['2026-11-01T00:27:00.000Z', last.id])).toString('base64url');
    const fromOld = await get(`limit=3&cursor=${old}`);
    expect(fromOld.status).toBe(200);
    expect(fromOld.body).toEqual(next.body);
    expect((next.body.entries as Entry[]).map((e) => e.time)).toEqual(['2026-11-01T00:26:00.000Z', '2026-11-01T00:25:00.000Z', '2026-11-01T00:24:00.000Z']);
  });

  it('filters by key, route, status, status class and time', async () => {
    expect((await get('key_id=key-a&limit=100')).body.entries).toHaveLength(15);
    const byRoute = (await get('route=/products/{id}&limit=100')).body.entries as Entry[];
    expect(byRoute).toHaveLength(10);
    expect(byRoute.every((e) => e.route === '/products/{id}')).toBe(true);
    expect((await get('status=404&limit=100')).body.entries).toHaveLength(6);
    expect(((await get('status=5xx')).body.entries as Entry[]).map((e) => e.status)).toEqual([502]);
    const window = await stack.rest('GET', '/logs?from=2026-11-01T00:10:00Z&to=2026-11-01T00:13:00Z', { key: ws.secret });
    expect((window.body.entries as Entry[]).map((e) => e.time)).toEqual(['2026-11-01T00:12:00.000Z', '2026-11-01T00:11:00.000Z', '2026-11-01T00:10:00.000Z']);
    const combined = await get('key_id=key-a&status=404&route=/products');
    // i ∈ {0, 30…}: even (key-a), multiple of 5 (404), i % 3 == 0 (/products) → i = 0 only.
    expect((combined.body.entries as Entry[]).map((e) => e.time)).toEqual(['2026-11-01T00:00:00.000Z']);
  });

  it('names the bad field', async () => {
    const status = await get('status=4x');
    expect(status.status).toBe(400);
    expect(status.body.error.field).toBe('status');
    const cursor = await get('cursor=notacursor');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.field).toBe('cursor');
    // The right shape for another list, but record ids are bigints: still a 400, never a database error.
    for (const id of ['key_abc', '9223372036854775808', '-1']) {
      const foreign = await get(`cursor=${Buffer.from(JSON.stringify(['2026-11-01T00:10:00.000000Z', id])).toString('base64url')}`);
      expect(foreign.status).toBe(400);
      expect(foreign.body.error.field).toBe('cursor');
    }
    const limit = await get('limit=1000');
    expect(limit.status).toBe(400);
    expect(limit.body.error.field).toBe('limit');
  });

  it('shows another workspace nothing', async () => {
    const res = await get('limit=100', outsider.secret);
    expect(res.status).toBe(200);
    expect(res.body.entries).toEqual([]);
  });

  it('is the same through tRPC logs.search', async () => {
    const caller = await stack.caller(ws.secret);
    const page = await caller.logs.search({ from: '2026-11-01T00:00:00Z', to: '2026-11-01T01:00:00Z', status: '4xx', limit: 4 });
    expect(page.entries).toHaveLength(4);
    expect(page.nextCursor).not.toBeNull();
    const rest = await caller.logs.search({ from: '2026-11-01T00:00:00Z', to: '2026-11-01T01:00:00Z', status: '4xx', limit: 4, cursor: page.nextCursor! });
    expect(rest.entries).toHaveLength(2);
    expect(rest.nextCursor).toBeNull();
  });

  it('tails new records live over the logs.tail subscription', async () => {
    const caller = await stack.caller(ws.secret);
    const stream = await caller.logs.tail({ keyId: 'key-live' });
    const iterator = stream[Symbol.asyncIterator]();
    const live = (route: string, keyId = 'key-live') =>
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId, source: 'service', method: 'GET', route, status: 201, latencyMs: 1 });
    // Subscribed once a marker comes through: a record written before the tail read its starting
    // point is rightly never shown, so markers are written until one arrives.
    let next = iterator.next();
    const deadline = Date.now() + 15_000;
    for (let arrived = false; !arrived; ) {
      if (Date.now() > deadline) throw new Error('the tail showed no marker within 15 s');
      live('/ready');
      await stack.deps.usage.flush();
      const poll = new Promise<false>((r) => setTimeout(() => r(false), 1_500));
      arrived = await Promise.race([next.then(() => true), poll]);
    }
    live('/x', 'other');
    live('/live');
    await stack.deps.usage.flush();
    // Markers written in the last round may still come first; the other key's record never does.
    let got;
    do {
      next = iterator.next();
      got = (await next).value;
    } while (got?.route === '/ready');
    expect(got).toMatchObject({ keyId: 'key-live', route: '/live', status: 201 });
    await iterator.return?.();
  });

  it('tails a record written after a newer one it has shown: writers commit in any order', async () => {
    const caller = await stack.caller(ws.secret);
    const iterator = (await caller.logs.tail({ keyId: 'key-order' }))[Symbol.asyncIterator]();
    const write = async (route: string, at?: Date) => {
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'key-order', source: 'service', method: 'GET', route, status: 200, latencyMs: 1, at });
      await stack.deps.usage.flush();
    };
    // Subscribed once a marker comes through, as above.
    const next = iterator.next();
    const deadline = Date.now() + 15_000;
    for (let arrived = false; !arrived; ) {
      if (Date.now() > deadline) throw new Error('the tail showed no marker within 15 s');
      await write('/ready');
      arrived = await Promise.race([next.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1_500))]);
    }
    const nextRoute = async () => {
      let got;
      do got = (await iterator.next()).value;
      while (got?.route === '/ready');
      return got;
    };
    await write('/newer');
    expect(await nextRoute()).toMatchObject({ route: '/newer' });
    // Stamped before /newer (a batch of another writer or API process, committed after it).
    await write('/older', new Date(Date.now() - 3_000));
    const older = await nextRoute();
    expect(older).toMatchObject({ route: '/older' });
    expect(Date.parse(older!.time)).toBeLessThan(Date.now() - 2_000);
    await iterator.return?.();
  });
});
