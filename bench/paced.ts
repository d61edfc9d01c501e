// Open-loop load at a steady rate for bench/verify.ts's latency phase, over raw keep-alive sockets.
//
// Node's own HTTP client cost the load generator ~60-80 µs of CPU a request: at 11-13k req/s its one
// core was nearly full, and its own queueing and pauses became every arm's p99 (the raw handler's
// p99 ran from 4 to 78 ms between runs at a fifth of its capacity). Here a request is one prebuilt
// buffer written to a free socket (bench/raw-http.ts), one request at a time on each socket. autocannon's
// own rate option is no use either: each connection fires its quota as fast as it can at the start
// of every second and then idles, so "half the rate" is really full load half the time.
import net from 'node:net';
import { percentile, type Load } from './load.js';
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
/** The longest the generator sleeps between turns, in ms: an answer arriving meanwhile is read (and timed) at most this late. */
const NAP_MS = 0.1;
const nap = new Int32Array(new SharedArrayBuffer(4));

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
  /** p99 of how late requests left after they were due, in ms: the generator's part of every latency. */
  lateP99: number;
}

/**
 * Request i is due at start + i/rate and leaves then on a free socket, or on the next one to free
 * up, whether or not earlier ones were answered; its latency is timed from when it was due, so a
 * generator running late counts against the server, not for it.
 *
 * Between requests the generator sleeps (Atomics.wait) until the next is due, never longer than
 * NAP_MS, instead of a timer: Node's timers fire a millisecond apart at best, and sending what fell
 * due at each tick left requests up to ~2 ms late at p99 in every arm, a constant that made the
 * slower server's p99 look closer to the faster one's (BENCHMARKS.md, "A generator that sends on time").
 */
export async function paced(url: string, path: string, headers: Record<string, string>, body: string, opts: PacedOptions): Promise<PacedLoad> {
  const target = new URL(url);
  const port = Number(target.port);
  const request = rawRequest(url, path, headers, body);
  const total = Math.round(opts.rate * opts.duration);
  const maxConnections = opts.maxConnections ?? 256;
  const latencies: number[] = [];
  /** How late each request left after it was due: the generator's own delay, inside its latency. */
  const lateness: number[] = [];
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
      if (dueAt !== WARMING) lateness.push(performance.now() - dueAt);
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
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * opts.rate) + 1);
      while (sent < due) {
        const dueAt = start + (sent * 1000) / opts.rate;
        sent++;
        // Oldest idle socket first, so none sits idle past the server's keep-alive timeout.
        const c = idle.shift() ?? (all.size < maxConnections ? open() : undefined);
        if (c) send(c, dueAt);
        else waiting.push(dueAt);
      }
      if (sent >= total) return;
      // Asleep until the next request is due, at most NAP_MS so that answers are read promptly,
      // then a turn of the event loop (setImmediate: its poll does not block) for them.
      const next = start + (sent * 1000) / opts.rate - performance.now();
      if (next > 0) Atomics.wait(nap, 0, 0, Math.min(next, NAP_MS));
      setImmediate(tick);
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
  lateness.sort((a, b) => a - b);
  return { ...figures, latencies, lateP99: percentile(lateness, 99) };
}
