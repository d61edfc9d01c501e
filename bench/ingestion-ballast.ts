// The usage reports a guarded route makes Gatehouse ingest, made for an arm that has none, so that
// every arm of the middleware and oauth benches runs beside the same Gatehouse work. On this
// 2-core machine Gatehouse (the API and its PostgreSQL backends) shares the host with the service;
// measured, its ingestion next door slows even the unprotected route, which never talks to it
// (BENCHMARKS.md, "Gatehouse next door"). In production Gatehouse runs elsewhere.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_REPORTED_RECORDS } from '../core/usage/ingest.js';

// The middleware's default batch (packages/express/src/guard.ts): the most one request may carry.
const BATCH = MAX_REPORTED_RECORDS;

/**
 * Runs `load` (handed a hook to call per response) beside `POST /v1/usage` batches shaped like the
 * middleware's (full batches of `route`) sent to `url`, and waits for them; alone when `url` is
 * undefined. An arm whose service reports its own usage sends the same batches to a sink instead, so
 * the sending costs this process (the load generator's) the same in every arm; only where the
 * reports are ingested differs. A batch refused or not delivered fails the run.
 */
export async function besideIngestion<T>(url: string | undefined, apiKey: string, keyId: string, route: string, load: (onResponse?: () => void) => Promise<T>): Promise<T> {
  if (url === undefined) return load();
  let served = 0;
  const sent: Promise<void>[] = [];
  const result = await load(() => {
    if (++served % BATCH !== 0) return;
    const time = new Date().toISOString();
    const records = Array.from({ length: BATCH }, () => ({ key_id: keyId, method: 'GET', route, status: 200, latency_ms: 0.5, time, code: 'VALID' }));
    const batch = fetch(`${url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ records }),
    }).then(async (res) => {
      const body = await res.text();
      if (res.status !== 202) throw new Error(`ingestion ballast: ${url}/v1/usage answered ${res.status}: ${body}`);
    });
    // Awaited below; marked handled now so a failure mid-run waits for it rather than crash the process.
    batch.catch(() => {});
    sent.push(batch);
  });
  await Promise.all(sent);
  return result;
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
