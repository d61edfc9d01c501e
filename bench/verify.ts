// `npm run bench -- verify`: throughput and latency of POST /v1/keys/verify on loopback against two
// yardsticks answering the same JSON: a bare Express handler and a raw node:http handler (the
// ceiling for a Node process). Options: --duration <s> (default 2.5), --connections <n> (default 128),
// --rounds <n> (default 20), --quota-rounds <n> (default 12), --cold <n> (default 10000),
// --paced-rounds <n> (default 10) of --paced-duration <s> (default 2) for latency,
// --profile <dir> (V8 CPU profiles of the API process and yardsticks). Many short rounds rather than
// a few long ones: this machine's speed moves by a third for tens of seconds at a time, and an arm
// paired with the others within ten seconds meets the same machine they do.
//
// So that no figure flatters: the API runs in production configuration (a key pepper, the calling
// service key with a rate limit, so every call counts against it); each round runs the four arms
// (raw, express, verify, verify without usage recording) in a fresh random order, all pinned to the
// same CPU, after the recorder has written everything the previous arm left; ratios are the medians
// of the per-round ratios. The closed-loop generator (bench/closed.ts) keeps 128 requests in
// flight on raw sockets; PostgreSQL's backends run beside it on CPU 0 at a lower priority
// (placeDatabase), as a database on hardware of its own would leave the API's core alone, and
// their CPU is reported beside the figures. Each round prints how busy it kept the server.
// Verification with and without recording is one API process, its recording switched between
// arms: what recording costs, not what two processes of the same code differ by.
// Latency is open-loop: requests are scheduled at a fixed rate and timed from their scheduled send
// time, so a load generator running late counts against the server, not for it; it too runs in
// rounds, arms shuffled each round, and its ratio is the median of the per-round p99 ratios (the
// pooled one beside it). The cold round verifies 10,000 keys the API has never seen, each once.
//
// The plan round compares verification in a workspace whose plan sets a monthly quota and a
// workspace rate limit (never reached) with the same in a workspace without a plan, alternated.
// Starts its own PostgreSQL database (a fresh one on DATABASE_URL's server, or an embedded server)
// and a Temporal dev server unless TEMPORAL_ADDRESS is set; the API runs as `node --import tsx
// bench/_verify-api.ts`: runApiProcess as `npm run api` runs it, with the switch for its recording.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { loadavg } from 'node:os';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { newId } from '../core/ids.js';
import { generateSecret, hashSecret, maskSecret } from '../core/keys/secret.js';
import { createOrm, migrate } from '../db/orm.js';
import { stopChild } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';
import { closed } from './closed.js';
import { atGeneratorPriority, backendsOf, cpuSeconds, measured, percentile, PIN, placeDatabase, waitForPost, type Load } from './load.js';
import { paced, type PacedLoad } from './paced.js';
import { benchDatabase, benchTemporal, Cleanups, option, spawnNode } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
/** Null where the figure could not be read (no /proc: no CPU per process). */
const finite = (n: number, d = 3) => (Number.isFinite(n) ? round(n, d) : null);
const cpu = (r: { cpuUs?: number; kernelShare?: number; rps: number }) =>
  r.cpuUs === undefined ? '' : `, ${r.cpuUs.toFixed(0)} µs CPU/req, kernel ${((r.kernelShare ?? 0) * 100).toFixed(0)}%, busy ${((r.cpuUs * r.rps) / 1e4).toFixed(0)}%`;

/** Closed-loop load on POST /v1/keys/verify (bench/closed.ts). */
const drive = (url: string, headers: Record<string, string>, body: string, opts: { duration: number; connections: number }) => closed(url, '/v1/keys/verify', headers, body, opts);

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Closed loop over `bodies`, each sent once, `connections` at a time: requests per second, and every answer must be VALID. */
async function eachOnce(url: string, headers: Record<string, string>, bodies: string[], connections: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(`${url}/v1/keys/verify`);
  let next = 0;
  let invalid = 0;
  const one = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200 || !(JSON.parse(Buffer.concat(chunks).toString()) as { valid?: boolean }).valid) invalid++;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) await one(bodies[next++]!);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  if (invalid) throw new Error(`cold round: ${invalid} of ${bodies.length} keys did not verify`);
  return bodies.length / seconds;
}

export async function run(args: string[]): Promise<void> {
  const duration = option(args, 'duration', 2.5);
  const connections = option(args, 'connections', 128);
  const rounds = option(args, 'rounds', 20);
  const coldKeys = option(args, 'cold', 10_000);
  // --profile <dir>: the API process writes a V8 CPU profile there when it exits (for optimising).
  const profileAt = args.indexOf('--profile');
  const profileDir = profileAt >= 0 ? args[profileAt + 1] : undefined;
  const env = loadConfig();
  const cleanups = new Cleanups();
  const loadAtStart = loadavg();
  try {
    const databaseUrl = await benchDatabase(env, cleanups);
    const temporalAddress = await benchTemporal(env, cleanups);

    const bootstrapKey = `bench-${randomBytes(24).toString('hex')}`;
    // Production configuration: secrets are stored as HMACs under a pepper.
    const pepper = randomBytes(32).toString('hex');
    const config = loadConfig({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey, GATEHOUSE_KEY_PEPPER: pepper });
    const orm = await createOrm(databaseUrl, { pool: { min: 0, max: 2 } });
    await migrate(orm);
    await bootstrap(orm.em.fork(), config);
    const em = orm.em.fork();
    /** Keys written straight into the tables, `count` at a time in one statement each. */
    const insertKeys = async (workspaceId: string, ids: string[], permissions: string[], rateLimits: unknown[] = []) => {
      const secrets: string[] = [];
      for (let from = 0; from < ids.length; from += 500) {
        const batch = ids.slice(from, from + 500).map((id) => ({ id, pk: newId('kid'), secret: generateSecret('gate', 'live') }));
        await em.execute(
          `insert into api_key (pk, workspace_id, id, client_id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at) values ` +
            batch.map(() => `(?, ?, ?, 'ci_' || replace(gen_random_uuid()::text, '-', ''), 'bench', 'live', ?, ?, '[]', '{}', true, ?, now(), now())`).join(', '),
          batch.flatMap((k) => [k.pk, workspaceId, k.id, JSON.stringify(permissions), JSON.stringify(rateLimits), maskSecret(k.secret)]),
        );
        await em.execute(
          `insert into api_key_secret (hash, api_key_pk, start, created_at) values ` + batch.map(() => '(?, ?, ?, now())').join(', '),
          batch.flatMap((k) => [hashSecret(k.secret, pepper), k.pk, maskSecret(k.secret)]),
        );
        secrets.push(...batch.map((k) => k.secret));
      }
      return secrets;
    };
    const insertKey = async (workspaceId: string, id: string, permissions: string[], rateLimits: unknown[] = []) => (await insertKeys(workspaceId, [id], permissions, rateLimits))[0]!;
    // The calling service's key, as in production: it may verify, and has a rate limit (never
    // reached) that every call counts against.
    const serviceKey = await insertKey('default', 'bench-service', ['keys:verify'], [{ name: 'service', limit: 1_000_000_000, windowSeconds: 60 }]);
    // The key under test: a permission to check, no rate limit or credits to contend on.
    const secret = await insertKey('default', 'bench-key', ['products:write']);
    // A second key whose (never reached) rate limit makes every verification count in PostgreSQL.
    const limitedSecret = await insertKey('default', 'bench-limited', ['products:write'], [{ name: 'bench', limit: 1_000_000_000, windowSeconds: 60 }]);
    // Two customer workspaces alike but for a plan: one with none, one whose plan sets a monthly
    // quota and a workspace rate limit (both far out of reach), each with its service's key and a
    // key to verify. The same API process verifies both, in alternating rounds.
    await em.execute(
      `insert into plan (id, name, key_rate_limits, workspace_rate_limits, monthly_calls, monthly_credits, is_default, created_at, updated_at)
       values ('bench-plan', 'Bench', '[]', ?, 1000000000000, null, false, now(), now())`,
      [JSON.stringify([{ limit: 2_000_000_000, windowSeconds: 60 }])],
    );
    await em.execute(`insert into workspace (id, name, key_prefix, plan_id, created_at) values ('bench-free', 'No plan', 'gate', null, now()), ('bench-plan', 'Plan', 'gate', 'bench-plan', now())`);
    const customers = {
      free: { caller: await insertKey('bench-free', 'service', ['keys:verify']), key: await insertKey('bench-free', 'customer', ['products:write']) },
      plan: { caller: await insertKey('bench-plan', 'service', ['keys:verify']), key: await insertKey('bench-plan', 'customer', ['products:write']) },
    };
    // The cold round's keys: written now, first looked up when the round verifies each once.
    const coldSecrets = await insertKeys('default', Array.from({ length: coldKeys }, (_, i) => `cold-${i}`), ['products:write']);
    await orm.close();

    // The bench database's backends, by pid: one that closed during a round takes its share with it (an undercount).
    const databaseName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
    const databaseCpu = () => new Map(backendsOf(databaseName).map((pid) => [pid, cpuSeconds(pid) ?? 0]));
    const cpuSince = (before: Map<number, number>) => [...databaseCpu()].reduce((sum, [pid, now]) => sum + now - (before.get(pid) ?? 0), 0);
    const apiPort = await freePort();
    const apiEnv = {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`,
      GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
      GATEHOUSE_KEY_PEPPER: pepper,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    };
    const api = spawnNode(['bench/_verify-api.ts'], { ...apiEnv, PORT: String(apiPort) }, { prefix: PIN, ipc: true, nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
    cleanups.add(() => stopChild(api.child));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForPost(apiUrl, api.child, api.output);
    /** Sends the API a message and resolves with its answer's `key`. */
    const ask = <T>(message: object, key: string) =>
      new Promise<T>((resolve) => {
        const answered = (m: Record<string, unknown>) => {
          if (!(key in m)) return;
          api.child.off('message', answered);
          resolve(m[key] as T);
        };
        api.child.on('message', answered);
        api.child.send(message);
      });
    /** Switches the API's usage recording; resolves once the API has. The arm `unrecorded` is the API with it off. */
    const recording = (on: boolean) => ask<boolean>({ recording: on }, 'recording');
    /**
     * Waits until the API's recorder holds nothing: the next arm must not pay for this one's writes.
     * Asked over IPC, not read from `/metrics`: the scrapes, every 50 ms between arms, were the largest
     * single item in a sampling heap profile of the API (BENCHMARKS.md, "What stalls a paced round").
     */
    const drained = async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const buffered = await ask<number | null>({ buffered: true }, 'buffered');
        if (buffered === null) throw new Error('the API answered that it has no usage recorder to wait for');
        if (buffered === 0) return;
        if (Date.now() > deadline) throw new Error(`the API's usage recorder did not drain within 60 s (${buffered} records buffered)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    /** Before an arm: the API's recording as that arm wants it, and PostgreSQL's backends (any opened since) placed. */
    const setUp = async (arm: string) => {
      await recording(arm !== 'unrecorded');
      placeDatabase(databaseName);
    };

    const body = JSON.stringify({ key: secret, permission: 'products:write' });
    const auth = { 'x-api-key': serviceKey };
    const sample = await fetch(`${apiUrl}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body });
    const answer = await sample.text();
    if (sample.status !== 200 || !(JSON.parse(answer) as { valid?: boolean }).valid || !sample.headers.has('ratelimit-limit')) {
      throw new Error(`the bench key does not verify under the rate-limited service key: ${sample.status} ${answer}`);
    }

    const yardstick = async (script: string, profileSub: string) => {
      const port = await freePort();
      const child = spawnNode([script, String(port), answer], {}, { prefix: PIN, nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${profileSub}`] : [] });
      cleanups.add(() => stopChild(child.child));
      const url = `http://127.0.0.1:${port}`;
      await waitForPost(url, child.child, child.output);
      return { url, pid: child.child.pid };
    };
    const express = await yardstick('bench/_verify-baseline.ts', 'baseline');
    const raw = await yardstick('bench/_verify-raw.ts', 'raw');

    say(
      `verify bench: ${connections} connections, ${rounds} rounds of ${duration} s, loopback; API pid ${api.child.pid}, Express pid ${express.pid}, raw pid ${raw.pid}` +
        (PIN.length ? '; servers on CPU 1, load generator on CPU 0' : '') +
        `; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    );
    type Arm = { name: 'raw' | 'express' | 'verify' | 'unrecorded'; url: string; pid: number | undefined };
    const arms: Arm[] = [
      { name: 'raw', url: raw.url, pid: raw.pid },
      { name: 'express', url: express.url, pid: express.pid },
      { name: 'verify', url: apiUrl, pid: api.child.pid },
      { name: 'unrecorded', url: apiUrl, pid: api.child.pid },
    ];
    // Warm every arm: JIT, caches, pools.
    for (const arm of arms) {
      await setUp(arm.name);
      await drive(arm.url, auth, body, { duration: 3, connections });
    }

    const results: Record<Arm['name'], (Load & { cpuUs?: number; dbCpuUs?: number })[]> = { raw: [], express: [], verify: [], unrecorded: [] };
    for (let i = 1; i <= rounds; i++) {
      const order = shuffled(arms);
      for (const arm of order) {
        await drained();
        await setUp(arm.name);
        const before = databaseCpu();
        const r: Load & { cpuUs?: number; dbCpuUs?: number } = await measured(arm.pid, () => drive(arm.url, auth, body, { duration, connections }));
        if (r.errors || r.non2xx) throw new Error(`errors during round ${i} (${arm.name}): ${r.errors} errors / ${r.non2xx} non-2xx`);
        // What PostgreSQL spent on the arm, its usage rows written: on these two cores it competes with the API or the load generator.
        if (arm.name === 'verify' || arm.name === 'unrecorded') {
          await drained();
          r.dbCpuUs = (cpuSince(before) * 1e6) / (r.rps * duration);
        }
        results[arm.name].push(r);
      }
      const line = order.map((a) => {
        const r = results[a.name][i - 1]!;
        const db = r.dbCpuUs !== undefined ? `, PostgreSQL ${r.dbCpuUs.toFixed(1)} µs CPU/req` : '';
        return `${a.name} ${r.rps.toFixed(0)} req/s (p99 ${r.p99.toFixed(2)} ms${cpu(r)}${db})`;
      });
      say(`round ${i}: ${line.join(', ')}`);
    }
    // Each ratio is taken within a round (the arms ran back to back, in random order), then the median over rounds.
    const perRound = (a: Arm['name'], b: Arm['name']) => median(results[a].map((r, i) => r.rps / results[b][i]!.rps));
    const best = (a: Arm['name']) => Math.max(...results[a].map((r) => r.rps));
    const ratio = perRound('verify', 'express');
    const rawRatio = perRound('verify', 'raw');
    const recordingRatio = perRound('verify', 'unrecorded');
    say(`max req/s: raw ${best('raw').toFixed(0)}, express ${best('express').toFixed(0)}, verify ${best('verify').toFixed(0)}, verify without usage recording ${best('unrecorded').toFixed(0)}`);
    say(`median of per-round ratios: verify/express ${ratio.toFixed(3)}, verify/raw ${rawRatio.toFixed(3)}, verify/unrecorded ${recordingRatio.toFixed(3)}`);
    // The same comparisons by each server process's own CPU per request (the yardstick's ÷ the
    // API's): what the throughput ratios would be if nothing else shared the server's core. Here
    // the load generator and PostgreSQL share the two cores, and only the API's arms make
    // PostgreSQL work (recording), so the throughput ratios also price the database's CPU.
    const perRoundCpu = (a: Arm['name'], b: Arm['name']) => median(results[a].map((r, i) => (results[b][i]!.cpuUs ?? NaN) / (r.cpuUs ?? NaN)));
    const cpuRatio = perRoundCpu('verify', 'express');
    const rawCpuRatio = perRoundCpu('verify', 'raw');
    const recordingCpuRatio = perRoundCpu('verify', 'unrecorded');
    // Recording's whole cost on one machine: the API's CPU and PostgreSQL's, each per request.
    const recordingTotalCpuRatio = median(
      results.verify.map((r, i) => {
        const u = results.unrecorded[i]!;
        return ((u.cpuUs ?? NaN) + (u.dbCpuUs ?? NaN)) / ((r.cpuUs ?? NaN) + (r.dbCpuUs ?? NaN));
      }),
    );
    if (Number.isFinite(cpuRatio)) {
      const cpuOf = (a: Arm['name']) => median(results[a].map((r) => r.cpuUs ?? NaN)).toFixed(1);
      say(`CPU per request, median: raw ${cpuOf('raw')} µs, express ${cpuOf('express')} µs, verify ${cpuOf('verify')} µs, unrecorded ${cpuOf('unrecorded')} µs`);
      say(`median of per-round CPU ratios: verify/express ${cpuRatio.toFixed(3)}, verify/raw ${rawCpuRatio.toFixed(3)}, verify/unrecorded ${recordingCpuRatio.toFixed(3)} (with PostgreSQL's ${recordingTotalCpuRatio.toFixed(3)})`);
    }

    // Open-loop latency at half of verify's median rate, every arm at the same rate, in random order;
    // the rate-limited key (a PostgreSQL upsert per request, batched) too.
    // Half of the median round's rate, not the best round's: of 20 short rounds the best is this machine's
    // fastest spell, and half of it saturated verification in its slow ones (p50 86 ms in one run).
    const half = Math.max(1, Math.floor(median(results.verify.map((r) => r.rps)) / 2));
    const limitedBody = JSON.stringify({ key: limitedSecret, permission: 'products:write' });
    await drive(apiUrl, auth, limitedBody, { duration: 2, connections });
    const pacedArms = [...arms.map((a) => ({ name: a.name as string, url: a.url, body })), { name: 'verify, rate-limited key', url: apiUrl, body: limitedBody }];
    // In rounds, each arm once a round in a fresh order, as the throughput rounds: a stall of the
    // shared machine (the raw handler's own p99 ran from 4 to 78 ms between runs) lands in one arm's
    // round, while a stall of verification's own (a usage batch, a lease's round trip) lands in each.
    // The ratio is the median of the per-round ratios; the pooled p99s are reported beside it.
    const pacedRounds = option(args, 'paced-rounds', 10);
    const pacedSeconds = option(args, 'paced-duration', 2);
    const pacedRuns: Record<string, Omit<PacedLoad, 'latencies'>[]> = {};
    const generatorCpu: number[] = [];
    const pooledLatencies: Record<string, number[]> = {};
    for (let i = 1; i <= pacedRounds; i++) {
      for (const arm of shuffled(pacedArms)) {
        await drained();
        await setUp(arm.name);
        const { latencies, ...r } = await atGeneratorPriority(() => paced(arm.url, '/v1/keys/verify', auth, arm.body, { rate: half, duration: pacedSeconds }));
        if (r.errors || r.non2xx) throw new Error(`${arm.name}: errors at half rate: ${r.errors} errors / ${r.non2xx} non-2xx`);
        (pacedRuns[arm.name] ??= []).push(r);
        generatorCpu.push(r.generatorCpu);
        pooledLatencies[arm.name] = (pooledLatencies[arm.name] ?? []).concat(latencies);
      }
      const lines = pacedArms.map(({ name }) => {
        const r = pacedRuns[name]![i - 1]!;
        return `${name} ${r.p99.toFixed(2)} ms (sent late ${r.lateP99.toFixed(2)})`;
      });
      say(`paced round ${i} at ${half} req/s (half of verify's median round), p99 from scheduled send: ${lines.join(', ')}`);
    }
    const latency: Record<string, { p50: number; p99: number }> = {};
    for (const { name } of pacedArms) {
      const all = pooledLatencies[name]!.sort((a, b) => a - b);
      latency[name] = { p50: percentile(all, 50), p99: percentile(all, 99) };
      say(`${name} at ${half} req/s, all rounds pooled, from scheduled send: p50 ${latency[name].p50.toFixed(3)} ms  p99 ${latency[name].p99.toFixed(3)} ms`);
    }
    const p99Ratio = median(pacedRuns['verify']!.map((r, i) => r.p99 / pacedRuns['raw']![i]!.p99));
    const p99PooledRatio = latency['verify']!.p99 / latency['raw']!.p99;
    say(`p99 at half rate ÷ the raw handler's: median of per-round ratios ${p99Ratio.toFixed(2)}, pooled ${p99PooledRatio.toFixed(2)}; the load generator used ${(100 * median(generatorCpu)).toFixed(0)} % of its core (median, up to ${(100 * Math.max(...generatorCpu)).toFixed(0)} %)`);

    // Cold cache: keys this API has never looked up, each verified once; the API records again from here on.
    await recording(true);
    await drained();
    placeDatabase(databaseName);
    const coldRps = await eachOnce(apiUrl, auth, coldSecrets.map((k) => JSON.stringify({ key: k, permission: 'products:write' })), connections);
    say(`cold cache: ${coldKeys} keys never seen, each verified once: ${coldRps.toFixed(0)} req/s`);

    // The plan round: verification under a monthly quota and a workspace rate limit (a batched
    // statement on the month's row and a batched upsert per request) against the same with no plan.
    const freeBody = JSON.stringify({ key: customers.free.key, permission: 'products:write' });
    const planBody = JSON.stringify({ key: customers.plan.key, permission: 'products:write' });
    const freeAuth = { 'x-api-key': customers.free.caller };
    const planAuth = { 'x-api-key': customers.plan.caller };
    const planSample = (await (await fetch(`${apiUrl}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...planAuth }, body: planBody })).json()) as {
      valid?: boolean;
      quota?: unknown;
      ratelimit?: unknown;
    };
    if (!planSample.valid || !planSample.quota || !planSample.ratelimit) throw new Error(`the plan key does not verify under its plan: ${JSON.stringify(planSample)}`);
    await drive(apiUrl, freeAuth, freeBody, { duration: 2, connections });
    await drive(apiUrl, planAuth, planBody, { duration: 2, connections });
    const free: (Load & { cpuUs?: number })[] = [];
    const planned: (Load & { cpuUs?: number })[] = [];
    const quotaRounds = option(args, 'quota-rounds', 12);
    for (let i = 1; i <= quotaRounds; i++) {
      const pair = shuffled([
        { list: free, auth: freeAuth, body: freeBody },
        { list: planned, auth: planAuth, body: planBody },
      ]);
      for (const p of pair) {
        await drained();
        placeDatabase(databaseName);
        const r = await measured(api.child.pid, () => drive(apiUrl, p.auth, p.body, { duration, connections }));
        if (r.errors || r.non2xx) throw new Error(`errors in plan round ${i}: ${r.errors} errors / ${r.non2xx} non-2xx`);
        p.list.push(r);
      }
      const f = free[i - 1]!;
      const q = planned[i - 1]!;
      say(`plan round ${i}: no plan ${f.rps.toFixed(0)} req/s (p99 ${f.p99.toFixed(2)} ms${cpu(f)}), quota + workspace rate limit ${q.rps.toFixed(0)} req/s (p99 ${q.p99.toFixed(2)} ms${cpu(q)})`);
    }
    const quotaRatio = median(planned.map((q, i) => q.rps / free[i]!.rps));
    say(`verify with a monthly quota and a workspace rate limit: median ratio ${quotaRatio.toFixed(3)} of no plan`);
    // CPU per request is the steadier figure on a shared machine: the ratio of the medians says what
    // share of the no-plan throughput a CPU-bound API process keeps under the plan.
    const cpuFree = free.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    const cpuPlanned = planned.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    const quotaCpuRatio = median(cpuFree) / median(cpuPlanned);
    if (cpuFree.length) say(`API CPU per request, median: ${median(cpuFree).toFixed(0)} µs without a plan, ${median(cpuPlanned).toFixed(0)} µs under it (ratio ${quotaCpuRatio.toFixed(3)})`);

    const loadAtEnd = loadavg();
    say(
      JSON.stringify({
        bench: 'verify',
        ratio: round(ratio, 3),
        raw_ratio: round(rawRatio, 3),
        p99_ratio: round(p99Ratio, 3),
        p99_pooled_ratio: round(p99PooledRatio, 3),
        recording_ratio: round(recordingRatio, 3),
        db_cpu_us: round(median(results.verify.map((r) => r.dbCpuUs ?? NaN)), 1),
        cpu_ratio: finite(cpuRatio),
        raw_cpu_ratio: finite(rawCpuRatio),
        recording_cpu_ratio: finite(recordingCpuRatio),
        recording_total_cpu_ratio: finite(recordingTotalCpuRatio),
        cold_rps: Math.round(coldRps),
        rps: Math.round(best('verify')),
        express_rps: Math.round(best('express')),
        raw_rps: Math.round(best('raw')),
        unrecorded_rps: Math.round(best('unrecorded')),
        half_rate_rps: half,
        p99_ms: round(latency['verify']!.p99, 3),
        p50_ms: round(latency['verify']!.p50, 3),
        raw_p99_ms: round(latency['raw']!.p99, 3),
        express_p99_ms: round(latency['express']!.p99, 3),
        unrecorded_p99_ms: round(latency['unrecorded']!.p99, 3),
        ratelimited_p99_ms: round(latency['verify, rate-limited key']!.p99, 3),
        // How late the generator sent at p99, median over rounds: its own part of each arm's p99.
        late_p99_ms: round(median(pacedRuns['verify']!.map((r) => r.lateP99)), 3),
        raw_late_p99_ms: round(median(pacedRuns['raw']!.map((r) => r.lateP99)), 3),
        quota_ratio: round(quotaRatio, 3),
        quota_cpu_ratio: finite(quotaCpuRatio),
        load: [loadAtStart[0], loadAtEnd[0]].map((l) => round(l!, 2)),
      }),
    );
  } finally {
    await cleanups.run();
  }
}
