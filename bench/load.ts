// Load generation and measurement shared by the benchmarks: closed-loop autocannon runs, the
// server's CPU time per request, CPU pinning, and waiting for a spawned server to listen.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import autocannon from 'autocannon';
import type { Cleanups } from './services.js';

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * One autocannon run. Latencies are taken from every response (float ms, from autocannon's own
 * hrtime) rather than its histogram, which keeps whole milliseconds only: too coarse for a 2 ms target.
 */
export async function load(
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
  opts: { duration: number; connections: number; path?: string; contentType?: string; onResponse?: () => void },
): Promise<Load> {
  const latencies: number[] = [];
  let done!: (r: autocannon.Result) => void;
  let failed!: (e: unknown) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => ((done = resolve), (failed = reject)));
  const instance = autocannon({
    url: `${url}${opts.path ?? '/v1/keys/verify'}`,
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? headers : { 'content-type': opts.contentType ?? 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
    connections: opts.connections,
    duration: opts.duration,
  }, (err, result) => (err ? failed(err) : done(result)));
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    opts.onResponse?.();
  });
  const result = await finished;
  latencies.sort((a, b) => a - b);
  return {
    rps: result.requests.total / (result.duration || opts.duration),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
/** CPU seconds (user + system) a process has used so far, from /proc; undefined off Linux. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  const split = cpuSplit(pid);
  return split && split.user + split.system;
}

/** The same, apart: the kernel's share (socket writes on loopback) moves with the other core's load. */
function cpuSplit(pid: number | undefined): { user: number; system: number } | undefined {
  try {
    return statTimes(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

/** utime and stime (fields 14 and 15 of stat(5)) in seconds, read after the name, which may hold spaces and parentheses. */
function statTimes(stat: string): { user: number; system: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
}

/** A process's CPU seconds by thread name (/proc/<pid>/task/<tid>/stat): V8's main thread, the workflow thread, the SDK core's. */
export function threadCpu(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = pid === undefined ? [] : readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // the process ended
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const { user, system } = statTimes(stat);
      out[name] = (out[name] ?? 0) + user + system;
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU by thread between two `threadCpu` readings, divided by `per` items (requests, deliveries) and times `scale` (1e6: µs, 1e3: ms). */
export function threadCpuPer(before: Record<string, number>, after: Record<string, number>, per: number, scale: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, ((after[name]! - (before[name] ?? 0)) * scale) / per]));
}

/**
 * A load run plus the server's CPU time per request: far steadier than req/s on a shared machine,
 * since another process taking the CPU lowers throughput but not the work each request needs.
 */
export async function measured(
  pid: number | undefined,
  run: () => Promise<Load>,
  others: Record<string, () => number[]> = {},
): Promise<Load & { cpuUs?: number; kernelShare?: number; total: number; busy?: Record<string, number>; threadsUs?: Record<string, number> }> {
  const before = cpuSplit(pid);
  const threadsBefore = threadCpu(pid);
  const othersBefore = Object.entries(others).map(([name, pids]) => [name, new Map(pids().map((p) => [p, cpuSeconds(p)]))] as const);
  const t0 = performance.now();
  const r = await run();
  const seconds = (performance.now() - t0) / 1000;
  const total = r.rps * seconds;
  const after = cpuSplit(pid);
  const threadsAfter = threadCpu(pid);
  // Each group's share of one CPU over the run, from the processes it had when the run started and
  // still has (a backend its pool closed meanwhile counts for nothing).
  const busy = othersBefore.length ? Object.fromEntries(othersBefore.map(([name, start]) => [name, usedSince(start) / seconds])) : undefined;
  if (before === undefined || after === undefined) return { ...r, total, busy };
  const user = after.user - before.user;
  const system = after.system - before.system;
  // Per thread: V8's main thread against its collector's helpers and libuv's pool, which a
  // process-wide figure lumps together.
  const threadsUs = threadCpuPer(threadsBefore, threadsAfter, total, 1e6);
  return { ...r, total, busy, threadsUs, cpuUs: ((user + system) * 1e6) / total, kernelShare: system / (user + system) };
}

/** `MainThread 80.1, V8Worker 1.2, …`: CPU by thread, largest first, at `decimals` places; threads that would round to nothing left out. */
export function threadsLine(byThread: Record<string, number> | undefined, decimals = 1): string {
  if (!byThread) return '';
  return Object.entries(byThread)
    .filter(([, v]) => v >= 5 * 10 ** -decimals)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${v.toFixed(decimals)}`)
    .join(', ');
}

function usedSince(start: Map<number, number | undefined>): number {
  let used = 0;
  for (const [pid, then] of start) {
    const now = cpuSeconds(pid);
    if (then !== undefined && now !== undefined) used += now - then;
  }
  return used;
}

/**
 * Servers under test run on CPU 1 and the load generator on CPU 0 when `taskset` is there: each
 * server then has a core of its own in its turn instead of trading places with the load generator.
 * Temporal is not pinned, nor PostgreSQL unless a bench places it (placeDatabase); single rounds
 * still move by ±15 % on this 2-core machine.
 */
export const PIN = (() => {
  try {
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    return ['taskset', '-c', '1'];
  } catch {
    return [];
  }
})();

/**
 * Runs `work` with this process (the load generator) at real-time priority (SCHED_FIFO) on its core,
 * then puts it back: PostgreSQL's backends share that core, and at any nice value their usage writes
 * held the generator off it for milliseconds, so requests left late in the recording arms only
 * (BENCHMARKS.md, "A generator that sends on time"). The generator sleeps between requests, so
 * PostgreSQL still has the rest of the core. Where `chrt` is refused (not root), it runs as it is.
 */
export async function atGeneratorPriority<T>(work: () => Promise<T>): Promise<T> {
  const set = (args: string[]) => {
    try {
      execFileSync('chrt', [...args, String(process.pid)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const raised = PIN.length > 0 && set(['-a', '-f', '-p', '1']);
  try {
    return await work();
  } finally {
    if (raised) set(['-a', '-o', '-p', '0']);
  }
}

/** The PostgreSQL backends serving one database: their process titles name it (`postgres: … <db> …`). */
export function backendsOf(database: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (title.startsWith('postgres: ') && title.split(' ').includes(database)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

/**
 * Moves Gatehouse (the API process and the PostgreSQL backends of its database) to CPU 0, beside
 * the load generator, so the service under test has CPU 1 to itself: in production Gatehouse runs
 * elsewhere, and its ingesting the service's usage reports must not take the service's core. Call
 * after the warm-up rounds, once the API's pools have opened their connections.
 */
export function pinGatehouse(apiPid: number, databaseUrl: string): void {
  toCpuZero(gatehousePids(apiPid, databaseUrl));
}

/**
 * Moves a database's PostgreSQL backends to CPU 0, beside the load generator, at a lower priority
 * (nice 10) than it: the server under test keeps CPU 1 to itself, and the generator runs whenever it
 * has work, PostgreSQL in what it leaves. In production the database has hardware of its own; left
 * to the scheduler here, its usage writes (a second's rows at once) took the API's core for
 * milliseconds at a time and paused the generator's (BENCHMARKS.md, "A load generator with room for
 * PostgreSQL"). What PostgreSQL spends is still measured and reported beside the figures. Call it
 * before every arm: a pool may have opened a backend since.
 */
export function placeDatabase(database: string): void {
  toCpuZero(backendsOf(database), 10);
}

/** Each process, every thread of it, to CPU 0 (and to `nice`, when given) where the bench pins at all. */
function toCpuZero(pids: number[], nice?: number): void {
  if (!PIN.length) return;
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
      if (nice !== undefined) setPriority(pid, nice);
    } catch {
      // a backend that closed meanwhile
    }
  }
}

/** Gatehouse's processes: the API and the PostgreSQL backends of its database. */
export function gatehousePids(apiPid: number, databaseUrl: string): number[] {
  return [apiPid, ...backendsOf(decodeURIComponent(new URL(databaseUrl).pathname.slice(1)))];
}

/**
 * What shares CPU 0 in the route rounds, as `measured` reports it: Gatehouse and the load generator
 * (this process, autocannon). Both near 100 % together means CPU 0, not the service, set the pace.
 */
export function cpuZero(apiPid: number, databaseUrl: string): Record<string, () => number[]> {
  return { Gatehouse: () => gatehousePids(apiPid, databaseUrl), 'load generator': () => [process.pid] };
}

/**
 * Caps a process at `share` of one CPU (cgroup v1 `cpu` controller, or v2), so that it, not the
 * load generator beside it, is the bottleneck of every arm: its req/s is then its capacity at that
 * share. Returns a description and `release` (the cap lifted; also done at cleanup), or undefined
 * where cgroups cannot be written (not root, no controller).
 */
export function capCpu(pid: number, share: number, cleanups: Cleanups): { description: string; release: () => void } | undefined {
  const period = 10_000;
  const quota = Math.round(share * period);
  for (const [root, write] of [
    ['/sys/fs/cgroup/cpu', (dir: string) => (writeFileSync(`${dir}/cpu.cfs_period_us`, String(period)), writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota)))],
    ['/sys/fs/cgroup', (dir: string) => writeFileSync(`${dir}/cpu.max`, `${quota} ${period}`)],
  ] as const) {
    const dir = `${root}/gatehouse-bench-${pid}`;
    try {
      mkdirSync(dir);
      write(dir);
      writeFileSync(`${dir}/cgroup.procs`, String(pid));
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          writeFileSync(`${root}/cgroup.procs`, String(pid));
        } catch {
          // exited already
        }
        rmdirSync(dir);
      };
      // Cleanups run last-added first, so the process may still be in it: hand it back first.
      cleanups.add(async () => release());
      return { description: `${Math.round(share * 100)} % of a CPU (${dir})`, release };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return undefined;
}

/**
 * The route rounds' service capped at `--service-cpu` of a CPU (default 0.5; 1 turns the cap off).
 * With two cores, the service has one and the load generator shares the other with Gatehouse,
 * which ingests the service's usage reports: uncapped, an arm that reports usage starved the load
 * generator (CPU 0 at ~100 %) while the service sat idle a third of the time, so req/s measured
 * CPU 0, not the service. Capped, the service is the bottleneck of every arm and its req/s is
 * its capacity at that share, the same for every arm.
 */
export function serviceCap(pid: number, args: readonly string[], cleanups: Cleanups): string {
  const at = args.indexOf('--service-cpu');
  const share = at >= 0 ? Number(args[at + 1]) : 0.5;
  if (!(share > 0 && share < 1)) return 'the service uncapped (--service-cpu 1)';
  const capped = PIN.length ? capCpu(pid, share, cleanups) : undefined;
  return capped ? `the service capped at ${capped.description}: it is the bottleneck of every arm` : 'the service uncapped (cgroups not writable here): req/s may measure the load generator';
}

export async function waitForPost(url: string, child: ChildProcess, output: string[]) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`process exited early:\n${output.join('')}`);
    try {
      await fetch(`${url}/healthz`);
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`process did not start:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type Measured = Load & { cpuUs?: number; kernelShare?: number; busy?: Record<string, number>; threadsUs?: Record<string, number> };

export type RoundResult = Measured & { cpuMedianUs: number; perRound: number[] };

const median = (xs: readonly number[] = []) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Rounds of each named load, the arms in a fresh random order each round so none always runs
 * first or after the same neighbour (issue 16). Per arm: its best round by req/s, every round's
 * req/s (for roundRatio), and the median CPU time per request of the process measured.
 */
export async function rounds(count: number, runs: Record<string, () => Promise<Measured>>, say: (line: string) => void): Promise<Record<string, RoundResult>> {
  const best: Record<string, Measured> = {};
  const cpu: Record<string, number[]> = {};
  const perRound: Record<string, number[]> = {};
  for (let i = 1; i <= count; i++) {
    const line: string[] = [];
    const order = Object.keys(runs);
    for (let j = order.length - 1; j > 0; j--) {
      const k = Math.floor(Math.random() * (j + 1));
      [order[j], order[k]] = [order[k]!, order[j]!];
    }
    for (const name of order) {
      const r = await runs[name]!();
      if (r.errors || r.non2xx) throw new Error(`${name}, round ${i}: ${r.errors} errors / ${r.non2xx} non-2xx`);
      const busy = Object.entries(r.busy ?? {}).map(([who, share]) => `, ${who} ${(share * 100).toFixed(0)} % of a CPU`).join('');
      line.push(`${name} ${r.rps.toFixed(0)} req/s (p99 ${r.p99.toFixed(2)} ms${r.cpuUs === undefined ? '' : `, ${r.cpuUs.toFixed(0)} µs CPU/req${r.kernelShare === undefined ? '' : ` (${(r.kernelShare * 100).toFixed(0)} % kernel)`}`}${busy}${r.threadsUs ? `; by thread, µs/req: ${threadsLine(r.threadsUs)}` : ''})`);
      if (!best[name] || r.rps > best[name].rps) best[name] = r;
      if (r.cpuUs !== undefined) (cpu[name] ??= []).push(r.cpuUs);
      (perRound[name] ??= []).push(r.rps);
    }
    say(`round ${i}: ${line.join(', ')}`);
  }
  return Object.fromEntries(Object.entries(best).map(([name, r]) => [name, { ...r, cpuMedianUs: median(cpu[name]), perRound: perRound[name]! }]));
}

/**
 * The median over rounds of a's req/s ÷ b's in the same round: the two ran minutes apart at most,
 * under the same conditions, where a ratio of bests can pair one arm's luckiest round with another's worst.
 */
export function roundRatio(a: RoundResult, b: RoundResult): number {
  return Math.round(median(a.perRound.map((x, i) => x / b.perRound[i]!)) * 1000) / 1000;
}
