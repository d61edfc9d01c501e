import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { scrape } from './scrape.js';

/** A port the OS says is free on loopback, for the Temporal SDK's own exporter (it cannot report one it picked). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface WorkerMetricsServerOptions {
  registry: Registry;
  host: string;
  port: number;
  token: string | undefined;
  log: Logger;
  /**
   * The Temporal SDK's Prometheus endpoint on loopback: its text is appended to each scrape, so one
   * target serves the worker's series and the SDK's (`temporal_*`).
   */
  temporalUrl?: string;
}

/** The worker's `GET /metrics` on METRICS_PORT: a bare node:http server, the worker has no Express. */
export async function startWorkerMetricsServer(opts: WorkerMetricsServerOptions): Promise<Server> {
  const temporal = opts.temporalUrl;
  const sdk = temporal
    ? async () => {
        try {
          const res = await fetch(temporal, { signal: AbortSignal.timeout(2_000) });
          return res.ok ? await res.text() : '';
        } catch (err) {
          opts.log.warn({ err }, 'metrics: the Temporal SDK exporter did not answer');
          return '';
        }
      }
    : undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'Only GET /metrics is served here' } }));
      return;
    }
    scrape(opts.registry, req.headers.authorization, opts.token, sdk).then(
      (a) => res.writeHead(a.status, { 'content-type': a.contentType }).end(a.body),
      (err: unknown) => {
        opts.log.error({ err }, 'metrics: scrape failed');
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'internal_error', message: 'Scrape failed; it has been logged' } }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}
