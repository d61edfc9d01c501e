import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { MAX_TAILS_PER_WORKSPACE } from '../../server/routers/logs.js';
import { cookieOf, trpcFrom } from './from-address.js';
import { addKey } from './keys.js';
import { SseStream } from './sse.js';

/**
 * logs.tail streams for as long as the client stays: it must stop, with an error, once the key or
 * session behind it no longer may read the log, and a workspace may hold only so many at once.
 * Driven over HTTP as the UI's httpSubscriptionLink drives it (server-sent events).
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack.close());

const tailUrl = () => `${stack.url}/trpc/logs.tail`;

async function openTail(headers: Record<string, string>): Promise<SseStream> {
  const stream = await SseStream.open(tailUrl(), headers);
  expect(stream.status).toBe(200);
  expect((await stream.next())?.event).toBe('connected');
  return stream;
}

/** Writes log records until each stream has received one (a tail starts at the newest record when it opens). */
async function expectLive(workspaceId: string, streams: SseStream[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  const pending = new Set(streams);
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} tail(s) received nothing`);
    stack.deps.usage.record({ workspaceId, keyId: 'probe', source: 'service', method: 'GET', route: '/probe', status: 200, latencyMs: 1 });
    await stack.deps.usage.flush();
    for (const stream of [...pending]) {
      const event = await stream.next(2_000).catch(() => undefined);
      if (event === undefined) continue;
      expect(event.event, event.data).toBe('message');
      pending.delete(stream);
    }
  }
}

function errorCode(event: { data: string } | undefined): string | undefined {
  return event ? (JSON.parse(event.data) as { data?: { code?: string } }).data?.code : undefined;
}

describe('logs.tail', () => {
  it('ends with UNAUTHORIZED once the key it was opened with is revoked', async () => {
    const ws = await stack.workspace(['admin']);
    const reader = await addKey(stack, ws.workspaceId, { id: 'reader', permissions: ['read-only'] });
    const stream = await openTail({ 'x-api-key': reader });
    await expectLive(ws.workspaceId, [stream]);

    expect((await stack.rest('POST', '/api-keys/reader/revoke', { key: ws.secret })).status).toBe(200);
    const ended = await stream.until('serialized-error');
    expect(errorCode(ended)).toBe('UNAUTHORIZED');
    expect(await stream.next()).toBeUndefined();
  });

  it('ends once the UI session it was opened with signs out', async () => {
    const ws = await stack.workspace(['admin']);
    const signedIn = await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signIn', { input: { key: ws.secret } });
    const cookie = cookieOf(signedIn);
    const stream = await openTail({ cookie });
    await expectLive(ws.workspaceId, [stream]);

    expect((await trpcFrom('127.0.0.1', stack.url, 'mutation', 'session.signOut', { cookie })).status).toBe(200);
    expect(errorCode(await stream.until('serialized-error'))).toBe('UNAUTHORIZED');
    expect(await stream.next()).toBeUndefined();
  });

  it(`allows ${MAX_TAILS_PER_WORKSPACE} open tails per workspace; one more gets TOO_MANY_REQUESTS until one closes`, async () => {
    const ws = await stack.workspace(['admin']);
    const streams: SseStream[] = [];
    for (let i = 0; i < MAX_TAILS_PER_WORKSPACE; i++) streams.push(await openTail({ 'x-api-key': ws.secret }));
    await expectLive(ws.workspaceId, streams);

    const over = await openTail({ 'x-api-key': ws.secret });
    const refused = await over.until('serialized-error');
    expect(errorCode(refused)).toBe('TOO_MANY_REQUESTS');
    expect((JSON.parse(refused!.data) as { data: { httpStatus: number } }).data.httpStatus).toBe(429);

    // Another workspace has its own allowance.
    const other = await stack.workspace(['admin']);
    const elsewhere = await openTail({ 'x-api-key': other.secret });
    await expectLive(other.workspaceId, [elsewhere]);
    elsewhere.close();

    // A client that leaves gives its slot back.
    streams.pop()!.close();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const retry = await openTail({ 'x-api-key': ws.secret });
      stack.deps.usage.record({ workspaceId: ws.workspaceId, keyId: 'probe', source: 'service', method: 'GET', route: '/probe', status: 200, latencyMs: 1 });
      await stack.deps.usage.flush();
      const event = await retry.next(3_000).catch(() => undefined);
      retry.close();
      if (event?.event === 'message') break;
      if (Date.now() > deadline) throw new Error('the closed tail’s slot was never given back');
    }
    for (const s of streams) s.close();
  });
});
