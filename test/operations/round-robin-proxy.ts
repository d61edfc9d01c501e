import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer as small as a test needs: round robin over the backends whose `/readyz` answered
 * 200 at the last check (every `checkMs`), keep-alive connections to them, and a request whose
 * connection was refused tried on the next backend (nothing was sent, as any balancer does). Any
 * other failure to reach a backend answers 502, which the rolling-restart test counts.
 */
export class RoundRobinProxy {
  url = '';
  private readonly backends = new Map<string, boolean>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly server = http.createServer((req, res) => this.forward(req, res));
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  /** Requests each backend answered. */
  readonly served = new Map<string, number>();
  /** Failures to reach a backend after it was chosen (answered 502). */
  readonly errors: string[] = [];

  constructor(private readonly checkMs = 50) {}

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.timer = setInterval(() => void this.check(), this.checkMs);
    return this;
  }

  add(url: string): void {
    this.backends.set(url, false);
  }

  remove(url: string): void {
    this.backends.delete(url);
  }

  ready(): string[] {
    return [...this.backends].filter(([, ok]) => ok).map(([u]) => u);
  }

  private async check(): Promise<void> {
    await Promise.all(
      [...this.backends.keys()].map(async (u) => {
        const ok = await fetch(`${u}/readyz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status === 200, () => false);
        if (this.backends.has(u)) this.backends.set(u, ok);
      }),
    );
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.send(req, res, Buffer.concat(chunks), 0));
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, tried: number): void {
    const ready = this.ready();
    if (ready.length === 0 || tried >= ready.length) {
      res.writeHead(503).end('no backend');
      return;
    }
    const backend = ready[this.next++ % ready.length]!;
    const upstream = http.request(`${backend}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(backend).host }, agent: this.agent }, (answer) => {
      this.served.set(backend, (this.served.get(backend) ?? 0) + 1);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return this.send(req, res, body, tried + 1);
      this.errors.push(`${backend}: ${err.code ?? err.message}`);
      if (!res.headersSent) res.writeHead(502).end(err.message);
    });
    upstream.end(body);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
