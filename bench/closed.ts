// Closed-loop load for bench/verify.ts's throughput rounds, over raw keep-alive sockets: each of
// `connections` sockets sends a prebuilt request, waits for the whole answer and sends the next at
// once, until the duration is up.
//
// With autocannon and 32 requests in flight, the API's core sat idle 11-17 % of a verification round
// against 3-9 % for the raw handler and the API recording nothing, the arms that make PostgreSQL
// write nothing: PostgreSQL's batch writes of the API's usage rows paused the generator, and 32
// requests are a millisecond of the API's work. What the throughput ratios priced there was the
// generator's pauses. The bench now keeps 128 in flight, and this generator spends 12-23 µs of CPU a
// request against autocannon's 18-34, most of either the kernel's loopback delivery (BENCHMARKS.md,
// "A load generator with room for PostgreSQL").
import net from 'node:net';
import type { Load } from './load.js';
import { AnswerReader, rawRequest, runFigures } from './raw-http.js';

export interface ClosedLoad extends Load {
  /** The generator's own CPU in the run, as a share of one core. */
  generatorCpu: number;
}

/** Requests per second over `duration` seconds, each socket one request at a time; latencies from each request's send. */
export async function closed(url: string, path: string, headers: Record<string, string>, body: string, opts: { duration: number; connections: number }): Promise<ClosedLoad> {
  const target = new URL(url);
  const request = rawRequest(url, path, headers, body);
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + opts.duration * 1000;

  const connection = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      const answers = new AnswerReader();
      let sentAt = 0;
      let settled = false;
      const send = () => {
        sentAt = performance.now();
        socket.write(request);
      };
      const stop = () => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve();
      };
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        const status = answers.feed(chunk);
        if (status === undefined) return;
        const now = performance.now();
        if (status === 200) latencies.push(now - sentAt);
        else non2xx++;
        if (now < end) send();
        else stop();
      });
      // A socket lost mid-run is an error, as autocannon counts one; the run goes on without it.
      const lost = () => {
        if (settled) return;
        errors++;
        stop();
      };
      socket.on('error', lost);
      socket.on('close', lost);
    });

  await Promise.all(Array.from({ length: opts.connections }, connection));
  const seconds = (performance.now() - start) / 1000;
  return runFigures({ answered: latencies.length + non2xx, seconds, latencies, errors, non2xx, cpuBefore });
}
