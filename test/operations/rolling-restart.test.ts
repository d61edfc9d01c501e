import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, stopApi, type ApiProcess } from '../api-process.js';
import { startStack, type Stack } from '../harness.js';
import { insertKey, type TestKey } from '../verify/keys.js';
import { until } from '../webhooks-durability/helpers.js';
import { RoundRobinProxy } from './round-robin-proxy.js';

// Long enough for the proxy's 50 ms readiness checks to see the 503 before the listener closes.
const DRAIN = { GATEHOUSE_DRAIN_SECONDS: '1' };

let stack: Stack;
let proxy: RoundRobinProxy;
let key: TestKey;
const apis: ApiProcess[] = [];
beforeAll(async () => {
  stack = await startStack({ worker: false });
  key = await insertKey(stack);
  proxy = await new RoundRobinProxy().start();
  for (const api of await Promise.all([startApi(stack, DRAIN), startApi(stack, DRAIN)])) {
    apis.push(api);
    proxy.add(api.url);
  }
  await until('both API processes in rotation', () => proxy.ready().length === 2, 30_000);
}, 180_000);
afterAll(async () => {
  await Promise.all(apis.map((a) => stopApi(a)));
  await proxy?.close();
  await stack?.close();
});

it('restarts each API process in turn while requests flow: no 5xx and no connection errors', async () => {
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let stop = false;
  let sent = 0;
  // Four clients with keep-alive connections to the proxy, verifying a key as a provider's API does.
  const clients = Array.from({ length: 4 }, async () => {
    while (!stop) {
      sent++;
      try {
        const res = await fetch(`${proxy.url}/v1/keys/verify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': stack.bootstrapKey },
          body: JSON.stringify({ key: key.secret }),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      } catch (err) {
        failures.push(String((err as Error).cause ?? err));
      }
    }
  });
  const countAt = (url: string) => proxy.served.get(url) ?? 0;

  for (let i = 0; i < 2; i++) {
    const old = apis[i]!;
    await until('the old process to serve requests', () => countAt(old.url) > 20, 30_000);
    // What an orchestrator does: SIGTERM, wait for the exit, start the new version.
    await stopApi(old);
    expect(old.child.exitCode, old.output.join('')).toBe(0);
    proxy.remove(old.url);
    const fresh = await startApi(stack, DRAIN);
    apis[i] = fresh;
    proxy.add(fresh.url);
    await until('the new process to serve requests', () => countAt(fresh.url) > 20, 60_000);
  }
  stop = true;
  await Promise.all(clients);

  expect(failures, 'client connection errors').toEqual([]);
  expect(proxy.errors, 'requests the proxy sent to a process that then failed them').toEqual([]);
  expect([...statuses.keys()], `answers: ${JSON.stringify([...statuses])}`).toEqual([200]);
  expect(statuses.get(200)).toBe(sent);
  // Two stops and two cold starts of an API process (tsx) on a loaded 2-core CI machine: the waits
  // above allow up to 30 + 60 s each, so the suite's 60 s default could end it mid-restart.
}, 240_000);
