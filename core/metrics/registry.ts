import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per process (per app in tests): never prom-client's global one, so several apps in
 * one test process do not register the same series twice. Node's own series (CPU, memory, event
 * loop lag, GC) keep their standard unprefixed names, which existing dashboards expect.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
