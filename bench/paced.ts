// Open-loop load at a steady rate for bench/verify.ts's latency phase, over raw keep-alive sockets.
//
// Node's own HTTP client cost the load generator ~60-80 µs of CPU a request: at 11-13k req/s its one
// core was nearly full, and its own queueing and pauses became every arm's p99 (the raw handler's
// p99 ran from 4 to 78 ms between runs at a fifth of its capacity). Here a request is one prebuilt
// buffer written to a free socket (bench/raw-http.ts), one request at a time on each socket. autocannon's
// own rate option is no use either: each connection fires its quota as fast as it can at the start
// of every second and then idles, so "half the rate" is really full load half the time.
import net from 'node:net';
import type { Load } from './load.js';
import { AnswerReader, rawRequest, runFigures } from './raw-http.js';

interface Conn {
  socket: net.Socket;
  /** When the request on it was due (undefined: idle). */
  dueAt: number | undefined;
  answers: AnswerReader;
}

/**
 * A client's keep-alive pool, warm before the clock starts, as an API server calling verification
 * keeps one: with none, the first milliseconds of every round opened a socket per request, and in
 * some rounds those requests' waits for a new connection were a fifth of the round's slow answers.
 * At half of verification's rate about a dozen requests are in flight at once.
 */
const WARM_CONNECTIONS = 32;
/** `dueAt` of a socket's warm-up request, whose answer is not counted. */
const WARMING = -1;

export interface PacedOptions {
  rate: number;
  /** Seconds. */
  duration: number;
  /** The most sockets open at once; a request due when all are busy waits (and its wait counts). */
  maxConnections?: number;
}

export interface PacedLoad extends Load {
  /** Every answered request's latency in ms, from when it was due. */
  latencies: number[];
  /** The generator's own CPU in the run, as a share of one core. */
  generatorCpu: number;
}

/**
 * Request i is due at start + i/rate and leaves then (checked every millisecond) on a free socket,
 * or on the next one to free up, whether or not earlier ones were answered; its latency is timed
 * from when it was due, so a generator running late counts against the server, not for it.
 */
export async function paced(url: string, path: string, headers: Record<string, string>, body: string, opts: PacedOptions): Promise<PacedLoad> {
  const target = new URL(url);
  const port = Number(target.port);
  const request = rawRequest(url, path, headers, body);
  const total = Math.round(opts.rate * opts.duration);
  const maxConnections = opts.maxConnections ?? 256;
  const latencies: number[] = [];
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  /** Due times of requests waiting for a socket, oldest first. */
  const waiting: number[] = [];
  let waitingHead = 0;
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let answered = 0;
  let cpuBefore = process.cpuUsage();
  let start = 0;
  let warming = Math.min(WARM_CONNECTIONS, maxConnections);

  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++answered === total) resolve();
    };
    const send = (c: Conn, dueAt: number) => {
      c.dueAt = dueAt;
      c.socket.write(request);
    };
    const freed = (c: Conn) => {
      c.dueAt = undefined;
      if (waitingHead < waiting.length) send(c, waiting[waitingHead++]!);
      else idle.push(c);
    };
    const open = (): Conn => {
      const c: Conn = { socket: net.connect(port, target.hostname), dueAt: undefined, answers: new AnswerReader() };
      c.socket.setNoDelay(true);
      all.add(c);
      c.socket.on('data', (chunk: Buffer) => {
        const status = c.answers.feed(chunk);
        if (status === undefined) return;
        if (c.dueAt === WARMING) {
          if (status !== 200) non2xx++;
          c.dueAt = undefined;
          idle.push(c);
          if (--warming === 0) begin();
          return;
        }
        if (status === 200) latencies.push(performance.now() - c.dueAt!);
        else non2xx++;
        finish();
        freed(c);
      });
      const lost = () => {
        if (!all.delete(c)) return;
        const at = idle.indexOf(c);
        if (at >= 0) idle.splice(at, 1);
        if (c.dueAt === WARMING) {
          errors++;
          if (--warming === 0) begin();
        } else if (c.dueAt !== undefined) {
          errors++;
          finish();
        }
        // Requests waiting for a socket must not wait for one that will never free up.
        if (waitingHead < waiting.length && all.size < maxConnections) send(open(), waiting[waitingHead++]!);
      };
      c.socket.on('error', lost);
      c.socket.on('close', lost);
      return c;
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * opts.rate));
      while (sent < due) {
        const dueAt = start + (sent * 1000) / opts.rate;
        sent++;
        // Oldest idle socket first, so none sits idle past the server's keep-alive timeout.
        const c = idle.shift() ?? (all.size < maxConnections ? open() : undefined);
        if (c) send(c, dueAt);
        else waiting.push(dueAt);
      }
      if (sent < total) setTimeout(tick, 1);
    };
    const begin = () => {
      cpuBefore = process.cpuUsage();
      start = performance.now();
      tick();
    };
    for (let i = warming; i > 0; i--) send(open(), WARMING);
  });

  const seconds = (performance.now() - start) / 1000;
  const figures = runFigures({ answered: total, seconds, latencies, errors, non2xx, cpuBefore });
  for (const c of all) c.socket.destroy();
  return { ...figures, latencies };
}
