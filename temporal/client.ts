import { Client, Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from './constants.js';
import { tracingClientInterceptors } from '../core/tracing/temporal.js';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  taskQueue: string;
  namespace: string;
}

/** One connection per process, made at start-up and shared through the request context. */
export async function connectTemporal(address: string, namespace: string, taskQueue: string): Promise<TemporalHandle> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace, interceptors: { workflow: tracingClientInterceptors() } }), connection, taskQueue, namespace };
}

/** Registers Gatehouse's search attributes on a cluster that lacks them (a dev server gets them by flag). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((name) => !known.has(name));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    // 2 = INDEXED_VALUE_TYPE_KEYWORD
    searchAttributes: Object.fromEntries(missing.map((name) => [name, 2])),
  });
}
