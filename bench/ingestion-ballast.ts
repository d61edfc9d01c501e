// The usage reports a guarded route makes Gatehouse ingest, made for an arm that has none, so that
// every arm of the middleware and oauth benches runs beside the same Gatehouse work. On this
// 2-core machine Gatehouse (the API and its PostgreSQL backends) shares the host with the service;
// measured, its ingestion next door slows even the unprotected route, which never talks to it
// (BENCHMARKS.md, "Gatehouse next door"). In production Gatehouse runs elsewhere.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// The middleware's default batch (packages/express/src/guard.ts).
const BATCH = 5_000;

export interface Ballast {
  /** One response served: every BATCH-th sends a batch of that many reports. */
  tick(): void;
  /** Waits for the batches under way. */
  settle(): Promise<void>;
}

/**
 * Sends `POST /v1/usage` batches shaped like the middleware's (full batches of `route`) to `url`.
 * An arm whose service reports its own usage gets one sending the same batches to a sink instead,
 * so the sending costs this process (the load generator's) the same in every arm; only where the
 * reports are ingested differs.
 */
export function ballast(url: string, apiKey: string, keyId: string, route: string): Ballast {
  let served = 0;
  const pending = new Set<Promise<void>>();
  return {
    tick() {
      if (++served % BATCH !== 0) return;
      const time = new Date().toISOString();
      const records = Array.from({ length: BATCH }, () => ({ key_id: keyId, method: 'GET', route, status: 200, latency_ms: 0.5, time, code: 'VALID' }));
      const sent = fetch(`${url}/v1/usage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ records }),
      }).then(async (res) => {
        const body = await res.text();
        if (res.status !== 202 && res.status !== 200) throw new Error(`ballast: ${url}/v1/usage answered ${res.status}: ${body}`);
      });
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    },
    async settle() {
      await Promise.all(pending);
    },
  };
}

/** Answers every POST as Gatehouse's `/v1/usage` does, having read the body: the sink of the arms that report their own usage. */
export async function usageSink(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = (JSON.parse(Buffer.concat(chunks).toString()) as { records: unknown[] }).records.length;
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: n, rejected: 0, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
