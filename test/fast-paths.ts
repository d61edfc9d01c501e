import http, { type Server } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createApp } from '../server/app.js';
import { startStack, type Stack } from './harness.js';

/**
 * The same app served twice: once as `app.listen` serves it (the fast paths first, then Express)
 * and once as Express alone (http.createServer(app)), which answers every route from its own
 * router. A fast path's test sends each case to both and expects the same answer.
 */
export interface TwoServers {
  fastUrl: string;
  expressUrl: string;
  /** Requests a fast path has answered so far. */
  fastTook(): number;
  close(): Promise<void>;
}

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

export async function serveTwice(stack: Stack): Promise<TwoServers> {
  const app = createApp(stack.deps);
  let took = 0;
  const fast = http.createServer((req, res) => {
    if (app.fastPaths(req, res)) took++;
    else app(req, res);
  });
  const plain = http.createServer(app);
  return {
    fastUrl: await listen(fast),
    expressUrl: await listen(plain),
    fastTook: () => took,
    async close() {
      for (const s of [fast, plain]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}

/** A stack (no worker) and its app served twice, for one test file: the fields are set in beforeAll. */
export function useTwoServers(): TwoServers & { stack: Stack } {
  const handle = {} as TwoServers & { stack: Stack };
  beforeAll(async () => {
    handle.stack = await startStack({ worker: false });
    Object.assign(handle, await serveTwice(handle.stack));
  });
  afterAll(async () => {
    await handle.close();
    await handle.stack.close();
  });
  return handle;
}
