// `npm run bench -- verify`: throughput and latency of POST /v1/keys/verify on loopback, against a
// bare Express handler answering the same JSON. Options: --duration <s> (default 10), --connections <n> (default 32),
// --rounds <n> (default 5), --quota-rounds <n> (default --rounds), --profile <dir> (V8 CPU profile of the API process).
// The plan round compares verification in a workspace whose plan sets a monthly quota and a
// workspace rate limit (never reached) with the same in a workspace without a plan, alternated.
// Starts its own PostgreSQL database (a fresh one on DATABASE_URL's server, or an embedded server)
// and a Temporal dev server unless TEMPORAL_ADDRESS is set; the API runs as `node --import tsx
// server/main.ts`, exactly as `npm run api` runs it.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { newId } from '../core/ids.js';
import { generateSecret, hashSecret, maskSecret } from '../core/keys/secret.js';
import { createOrm, migrate } from '../db/orm.js';
import { stopChild } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';
import { load, measured, percentile, PIN, waitForPost, type Load } from './load.js';
import { benchDatabase, benchTemporal, Cleanups, option, spawnNode } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * Open-loop load at a steady rate: requests leave on schedule (checked every millisecond) whether
 * or not earlier ones were answered, over keep-alive connections. autocannon's own rate option
 * is no use here: each connection fires its quota as fast as it can at the start of every second
 * and then idles, so "half the rate" is really full load half the time.
 */
async function paced(url: string, headers: Record<string, string>, body: string, opts: { rate: number; duration: number }): Promise<Load> {
  const target = new URL(`${url}/v1/keys/verify`);
  // FIFO reuse keeps every pooled socket busy: with the default LIFO, sockets at the bottom of
  // the free list sat idle past the server's 5 s keep-alive timeout and were reset just as a
  // request was sent on them (seen as a handful of ECONNRESETs per run).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, scheduling: 'fifo' });
  const total = Math.round(opts.rate * opts.duration);
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let answered = 0;
  const payload = Buffer.from(body);
  const reqHeaders = { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++answered === total) resolve();
    };
    const fire = () => {
      const sentAt = performance.now();
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: reqHeaders },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - sentAt);
            else non2xx++;
            finish();
          });
        },
      );
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(payload);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * opts.rate));
      while (sent < due) {
        sent++;
        fire();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rps: total / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, non2xx };
}

export async function run(args: string[]): Promise<void> {
  const duration = option(args, 'duration', 10);
  const connections = option(args, 'connections', 32);
  const rounds = option(args, 'rounds', 5);
  // --profile <dir>: the API process writes a V8 CPU profile there when it exits (for optimising).
  const profileAt = args.indexOf('--profile');
  const profileDir = profileAt >= 0 ? args[profileAt + 1] : undefined;
  const env = loadConfig();
  const cleanups = new Cleanups();
  try {
    const databaseUrl = await benchDatabase(env, cleanups);
    const temporalAddress = await benchTemporal(env, cleanups);

    const bootstrapKey = `bench-${randomBytes(24).toString('hex')}`;
    const config = loadConfig({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey });
    const orm = await createOrm(databaseUrl, { pool: { min: 0, max: 2 } });
    await migrate(orm);
    await bootstrap(orm.em.fork(), config);
    // The key under test: a permission to check, no rate limit or credits to contend on.
    const secret = generateSecret('gate', 'live');
    const keyPk = newId('kid');
    const em = orm.em.fork();
    await em.execute(
      `insert into api_key (pk, workspace_id, id, client_id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
       values (?, 'default', 'bench-key', 'ci_' || replace(gen_random_uuid()::text, '-', ''), 'bench', 'live', '["products:write"]', '[]', '[]', '{}', true, ?, now(), now())`,
      [keyPk, maskSecret(secret)],
    );
    await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
      hashSecret(secret),
      keyPk,
      maskSecret(secret),
    ]);
    // A second key whose (never reached) rate limit makes every verification count in PostgreSQL.
    const limitedSecret = generateSecret('gate', 'live');
    const limitedPk = newId('kid');
    await em.execute(
      `insert into api_key (pk, workspace_id, id, client_id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
       values (?, 'default', 'bench-limited', 'ci_' || replace(gen_random_uuid()::text, '-', ''), 'bench', 'live', '["products:write"]', ?, '[]', '{}', true, ?, now(), now())`,
      [limitedPk, JSON.stringify([{ name: 'bench', limit: 1_000_000_000, windowSeconds: 60 }]), maskSecret(limitedSecret)],
    );
    await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [
      hashSecret(limitedSecret),
      limitedPk,
      maskSecret(limitedSecret),
    ]);
    // Two customer workspaces alike but for a plan: one with none, one whose plan sets a monthly
    // quota and a workspace rate limit (both far out of reach), each with its service's key and a
    // key to verify. The same API process verifies both, in alternating rounds.
    const insertKey = async (workspaceId: string, id: string, permissions: string[]) => {
      const keySecret = generateSecret('gate', 'live');
      const pk = newId('kid');
      await em.execute(
        `insert into api_key (pk, workspace_id, id, client_id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
         values (?, ?, ?, 'ci_' || replace(gen_random_uuid()::text, '-', ''), 'bench', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())`,
        [pk, workspaceId, id, JSON.stringify(permissions), maskSecret(keySecret)],
      );
      await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [hashSecret(keySecret), pk, maskSecret(keySecret)]);
      return keySecret;
    };
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
    await orm.close();

    const apiPort = await freePort();
    const apiEnv = {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`,
      GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    };
    const api = spawnNode(['server/main.ts'], { ...apiEnv, PORT: String(apiPort) }, { prefix: PIN, nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
    cleanups.add(() => stopChild(api.child));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForPost(apiUrl, api.child, api.output);
    // The same API with a usage pipeline that records nothing: what recording costs verification.
    const unrecordedPort = await freePort();
    const unrecorded = spawnNode(['bench/_verify-api-unrecorded.ts'], { ...apiEnv, PORT: String(unrecordedPort) }, { prefix: PIN });
    cleanups.add(() => stopChild(unrecorded.child));
    const unrecordedUrl = `http://127.0.0.1:${unrecordedPort}`;
    await waitForPost(unrecordedUrl, unrecorded.child, unrecorded.output);

    const body = JSON.stringify({ key: secret, permission: 'products:write' });
    const auth = { 'x-api-key': bootstrapKey };
    const sample = await fetch(`${apiUrl}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body });
    const answer = await sample.text();
    if (sample.status !== 200 || !(JSON.parse(answer) as { valid?: boolean }).valid) {
      throw new Error(`the bench key does not verify: ${sample.status} ${answer}`);
    }

    const basePort = await freePort();
    const base = spawnNode(
      ['bench/_verify-baseline.ts', String(basePort), answer],
      {},
      { prefix: PIN, nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/baseline`] : [] },
    );
    cleanups.add(() => stopChild(base.child));
    const baseUrl = `http://127.0.0.1:${basePort}`;
    await waitForPost(baseUrl, base.child, base.output);

    say(
      `verify bench: ${connections} connections, ${rounds} rounds of ${duration} s, loopback; API pid ${api.child.pid}, baseline pid ${base.child.pid}` +
        (PIN.length ? '; servers on CPU 1, load generator on CPU 0' : ''),
    );
    // Warm both: JIT, caches, pools.
    await load(baseUrl, auth, body, { duration: 3, connections });
    await load(apiUrl, auth, body, { duration: 3, connections });
    await load(unrecordedUrl, auth, body, { duration: 3, connections });

    // Alternating rounds, best of each: on a shared machine, interference only ever lowers a
    // figure, so the best round is the closest to what the code can do.
    let baseline: Load | undefined;
    let verify: Load | undefined;
    let verifyUnrecorded: Load | undefined;
    for (let i = 1; i <= rounds; i++) {
      const b = await measured(base.child.pid, () => load(baseUrl, auth, body, { duration, connections }));
      const v = await measured(api.child.pid, () => load(apiUrl, auth, body, { duration, connections }));
      const u = await measured(unrecorded.child.pid, () => load(unrecordedUrl, auth, body, { duration, connections }));
      const cpu = (r: { cpuUs?: number }) => (r.cpuUs === undefined ? '' : `, ${r.cpuUs.toFixed(0)} µs CPU/req`);
      say(
        `round ${i}: baseline ${b.rps.toFixed(0)} req/s (p99 ${b.p99.toFixed(2)} ms${cpu(b)}), verify ${v.rps.toFixed(0)} req/s (p99 ${v.p99.toFixed(2)} ms${cpu(v)}), ` +
          `verify without usage recording ${u.rps.toFixed(0)} req/s (p99 ${u.p99.toFixed(2)} ms${cpu(u)})`,
      );
      for (const r of [b, v, u]) {
        if (r.errors || r.non2xx) throw new Error(`errors during round ${i}: ${r.errors} errors / ${r.non2xx} non-2xx`);
      }
      if (!baseline || b.rps > baseline.rps) baseline = b;
      if (!verify || v.rps > verify.rps) verify = v;
      if (!verifyUnrecorded || u.rps > verifyUnrecorded.rps) verifyUnrecorded = u;
    }
    say(`baseline  max: ${baseline!.rps.toFixed(0)} req/s`);
    say(`verify    max: ${verify!.rps.toFixed(0)} req/s  (ratio ${(verify!.rps / baseline!.rps).toFixed(3)})`);
    say(`verify without usage recording max: ${verifyUnrecorded!.rps.toFixed(0)} req/s  (with recording: ${((verify!.rps / verifyUnrecorded!.rps) * 100).toFixed(1)} % of it)`);
    const half = Math.max(1, Math.floor(verify!.rps / 2));
    const atHalf = await paced(apiUrl, auth, body, { rate: half, duration });
    const baseAtHalf = await paced(baseUrl, auth, body, { rate: half, duration });
    const unrecordedAtHalf = await paced(unrecordedUrl, auth, body, { rate: half, duration });
    for (const [name, r] of [['verify', atHalf], ['baseline', baseAtHalf], ['verify without usage recording', unrecordedAtHalf]] as const) {
      if (r.errors || r.non2xx) throw new Error(`${name}: errors at half rate: ${r.errors} errors / ${r.non2xx} non-2xx`);
    }
    say(`verify   at ${half} req/s (half of max): p50 ${atHalf.p50.toFixed(3)} ms  p99 ${atHalf.p99.toFixed(3)} ms`);
    say(`baseline at ${half} req/s:               p50 ${baseAtHalf.p50.toFixed(3)} ms  p99 ${baseAtHalf.p99.toFixed(3)} ms`);
    say(`verify without usage recording at ${half} req/s: p50 ${unrecordedAtHalf.p50.toFixed(3)} ms  p99 ${unrecordedAtHalf.p99.toFixed(3)} ms`);

    const limitedBody = JSON.stringify({ key: limitedSecret, permission: 'products:write' });
    await load(apiUrl, auth, limitedBody, { duration: 2, connections });
    const limited = await measured(api.child.pid, () => load(apiUrl, auth, limitedBody, { duration, connections }));
    if (limited.errors || limited.non2xx) throw new Error(`errors with the rate-limited key: ${limited.errors} / ${limited.non2xx}`);
    say(
      `verify, key with a rate limit (a PostgreSQL upsert per request, batched): ${limited.rps.toFixed(0)} req/s  p99 ${limited.p99.toFixed(2)} ms` +
        (limited.cpuUs === undefined ? '' : `  ${limited.cpuUs.toFixed(0)} µs CPU/req`),
    );

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
    await load(apiUrl, freeAuth, freeBody, { duration: 2, connections });
    await load(apiUrl, planAuth, planBody, { duration: 2, connections });
    let free: (Load & { cpuUs?: number }) | undefined;
    let planned: (Load & { cpuUs?: number }) | undefined;
    const cpuFree: number[] = [];
    const cpuPlanned: number[] = [];
    const quotaRounds = option(args, 'quota-rounds', rounds);
    for (let i = 1; i <= quotaRounds; i++) {
      const f = await measured(api.child.pid, () => load(apiUrl, freeAuth, freeBody, { duration, connections }));
      const q = await measured(api.child.pid, () => load(apiUrl, planAuth, planBody, { duration, connections }));
      for (const r of [f, q]) if (r.errors || r.non2xx) throw new Error(`errors in plan round ${i}: ${r.errors} errors / ${r.non2xx} non-2xx`);
      const cpu = (r: { cpuUs?: number }) => (r.cpuUs === undefined ? '' : `, ${r.cpuUs.toFixed(0)} µs CPU/req`);
      say(`plan round ${i}: no plan ${f.rps.toFixed(0)} req/s (p99 ${f.p99.toFixed(2)} ms${cpu(f)}), quota + workspace rate limit ${q.rps.toFixed(0)} req/s (p99 ${q.p99.toFixed(2)} ms${cpu(q)})`);
      if (f.cpuUs !== undefined && q.cpuUs !== undefined) {
        cpuFree.push(f.cpuUs);
        cpuPlanned.push(q.cpuUs);
      }
      if (!free || f.rps > free.rps) free = f;
      if (!planned || q.rps > planned.rps) planned = q;
    }
    say(`verify with a monthly quota and a workspace rate limit max: ${planned!.rps.toFixed(0)} req/s vs ${free!.rps.toFixed(0)} without a plan (ratio ${(planned!.rps / free!.rps).toFixed(3)})`);
    // CPU per request is the steadier figure on a shared machine: the ratio of the medians says what
    // share of the no-plan throughput a CPU-bound API process keeps under the plan.
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
    const quotaCpuRatio = median(cpuFree) / median(cpuPlanned);
    if (cpuFree.length) say(`API CPU per request, median: ${median(cpuFree).toFixed(0)} µs without a plan, ${median(cpuPlanned).toFixed(0)} µs under it (ratio ${quotaCpuRatio.toFixed(3)})`);

    const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
    say(
      JSON.stringify({
        bench: 'verify',
        ratio: round(verify!.rps / baseline!.rps, 3),
        rps: Math.round(verify!.rps),
        baseline_rps: Math.round(baseline!.rps),
        p99_ms: round(atHalf.p99, 3),
        p50_ms: round(atHalf.p50, 3),
        half_rate_rps: half,
        baseline_p99_ms: round(baseAtHalf.p99, 3),
        unrecorded_rps: Math.round(verifyUnrecorded!.rps),
        unrecorded_p99_ms: round(unrecordedAtHalf.p99, 3),
        recording_ratio: round(verify!.rps / verifyUnrecorded!.rps, 3),
        ratelimited_rps: Math.round(limited.rps),
        quota_ratio: round(planned!.rps / free!.rps, 3),
        quota_cpu_ratio: Number.isFinite(quotaCpuRatio) ? round(quotaCpuRatio, 3) : null,
        quota_rps: Math.round(planned!.rps),
        no_plan_rps: Math.round(free!.rps),
      }),
    );
  } finally {
    await cleanups.run();
  }
}
