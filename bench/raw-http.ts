// The load generators' HTTP/1.1 on raw keep-alive sockets (bench/paced.ts, bench/closed.ts): a
// request is one prebuilt buffer, and an answer is framed by its status line and Content-Length
// (every server the benches measure sends one). Node's HTTP client cost the generator ~60-80 µs of
// CPU a request and autocannon 18-34; on these two cores the generator shares its core with
// PostgreSQL, so what it spends a request decides whether the server under test is kept busy.

import { percentile, type Load } from './load.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const LENGTH_NAMES = ['\r\nContent-Length:', '\r\ncontent-length:'];

/** `POST path` with a JSON body and the given headers, as one buffer to write again and again. */
export function rawRequest(url: string, path: string, headers: Record<string, string>, body: string): Buffer {
  const target = new URL(url);
  const payload = Buffer.from(body);
  const head = [`POST ${path} HTTP/1.1`, `Host: ${target.host}`, 'Content-Type: application/json', `Content-Length: ${payload.length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), payload]);
}

/**
 * One socket's answers, one request in flight at a time: `feed` each chunk received; it returns the
 * answer's status once the answer is whole, undefined while it is not.
 */
export class AnswerReader {
  private received: Buffer | undefined;

  feed(chunk: Buffer): number | undefined {
    const buf = this.received ? Buffer.concat([this.received, chunk]) : chunk;
    const end = buf.indexOf(HEADER_END);
    if (end < 0) {
      this.received = buf;
      return undefined;
    }
    const length = contentLength(buf, end);
    if (buf.length < end + 4 + length) {
      this.received = buf;
      return undefined;
    }
    if (buf.length > end + 4 + length) throw new Error(`an answer longer than its Content-Length: ${buf.toString('latin1', 0, end)}`);
    this.received = undefined;
    // `HTTP/1.1 200 OK`: the three digits after the version.
    return (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
  }
}

function contentLength(buf: Buffer, headEnd: number): number {
  for (const name of LENGTH_NAMES) {
    const at = buf.indexOf(name, 0, 'latin1');
    if (at >= 0 && at < headEnd) return parseInt(buf.toString('latin1', at + name.length, buf.indexOf('\r\n', at + 2)), 10);
  }
  const head = buf.toString('latin1', 0, headEnd);
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (!m) throw new Error(`an answer without Content-Length: ${head}`);
  return Number(m[1]);
}

/**
 * A generator run's figures: requests a second over the run, the p50 and p99 of `latencies` (sorted
 * here, in place), and the generator's own CPU since `cpuBefore` as a share of one core.
 */
export function runFigures(o: { answered: number; seconds: number; latencies: number[]; errors: number; non2xx: number; cpuBefore: NodeJS.CpuUsage }): Load & { generatorCpu: number } {
  const cpu = process.cpuUsage(o.cpuBefore);
  o.latencies.sort((a, b) => a - b);
  return {
    rps: o.answered / o.seconds,
    p50: percentile(o.latencies, 50),
    p99: percentile(o.latencies, 99),
    errors: o.errors,
    non2xx: o.non2xx,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / o.seconds,
  };
}
