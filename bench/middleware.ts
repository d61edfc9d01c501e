// `npm run bench -- middleware`: a route of a provider's Express service protected by
// @gatehouse/express, as ratios against the same route unprotected, measured in the same run with
// rounds alternated and the same connections for every figure (issue #17). Usage reporting is on.
// - verifying every request (`POST /v1/keys/verify` per request): reported, no target; it is bounded
//   by the verify endpoint, whose API process shares the machine's two cores with the service;
// - with the short cache of valid verdicts on (`cacheTtlMs`, 5 s): target ≥ 0.90.
// Gatehouse shares this machine, so every arm has it ingesting the same usage reports beside it
// (bench/ingestion-ballast.ts); `none (quiet)` is the unprotected route with Gatehouse idle, and
// `ingestion_interference` what its ingestion next door costs a route that never calls it.
// `passthrough`: the route behind a middleware that only calls next(), beside the same ingestion:
// what Express charges any middleware (`passthrough_ratio`), so `cached_vs_passthrough_ratio` is
// the guard's own share. Each arm's CPU is also printed per thread (main, V8's helpers).
// Options: --duration <s> (default 10), --connections <n> (default 32), --rounds <n> (default 5),
// --profile <dir> (a V8 CPU profile of the service), --profile-api <dir> (one of the API).
// Starts its own database and Temporal as bench/verify.ts does; the API is `server/main.ts`.
import { randomBytes } from 'node:crypto';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { createOrm, migrate } from '../db/orm.js';
import { stopChild } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';
import { cpuZero, load, measured, PIN, pinGatehouse, roundRatio, rounds, serviceCap, waitForPost } from './load.js';
import { besideIngestion, usageSink } from './ingestion-ballast.js';
import { benchDatabase, benchTemporal, Cleanups, option, spawnNode } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const CACHE_TTL_MS = 5_000;

export async function run(args: string[]): Promise<void> {
  const duration = option(args, 'duration', 10);
  const connections = option(args, 'connections', 32);
  const count = option(args, 'rounds', 5);
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
    await orm.close();

    const apiPort = await freePort();
    // --profile-api <dir>: the API (verifying, ingesting the usage reports) writes a V8 CPU profile there.
    const apiProfileAt = args.indexOf('--profile-api');
    const apiFlags = apiProfileAt >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${args[apiProfileAt + 1]}`] : [];
    const api = spawnNode(['server/main.ts'], {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`,
      GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    }, { nodeFlags: apiFlags });
    cleanups.add(() => stopChild(api.child));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForPost(apiUrl, api.child, api.output);

    // Keys through the API, as a provider creates them: the caller's and the service's own.
    const createKey = async (id: string, permissions: string[]) => {
      const res = await fetch(`${apiUrl}/api-keys`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': bootstrapKey }, body: JSON.stringify({ id, permissions }) });
      const body = (await res.json()) as { api_key?: string };
      if (res.status !== 201 || !body.api_key) throw new Error(`key ${id}: ${res.status} ${JSON.stringify(body)}`);
      return body.api_key;
    };
    const caller = await createKey('bench-caller', ['products:read']);
    const service = await createKey('bench-service', ['keys:verify', 'usage:write']);

    const servicePort = await freePort();
    // --profile <dir>: the service writes a V8 CPU profile there when it exits.
    const profileAt = args.indexOf('--profile');
    const nodeFlags = profileAt >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${args[profileAt + 1]}`] : [];
    const svc = spawnNode(['bench/_middleware-service.ts'], { PORT: String(servicePort), GATEHOUSE_URL: apiUrl, SERVICE_KEY: service, CACHE_TTL_MS: String(CACHE_TTL_MS) }, { prefix: PIN, nodeFlags });
    cleanups.add(() => stopChild(svc.child));
    const svcUrl = `http://127.0.0.1:${servicePort}`;
    await waitForPost(svcUrl, svc.child, svc.output);
    const keyHeader = { 'x-api-key': caller };
    for (const path of ['/none', '/verify', '/cached']) {
      const res = await fetch(svcUrl + path, { headers: keyHeader });
      if (res.status !== 200) throw new Error(`the service's ${path} answered ${res.status}: ${await res.text()}\n${svc.output.join('')}`);
    }
    // The service gets CPU 1 to itself; the API (verifying, ingesting the usage reports) runs on
    // CPU 0 beside the load generator, as bench/oauth.ts's route rounds do.


    say(
      `middleware bench: ${connections} connections, ${count} rounds of ${duration} s, loopback; API pid ${api.child.pid}, service pid ${svc.child.pid}` +
        (PIN.length ? '; service on CPU 1, the API, its PostgreSQL backends and the load generator on CPU 0' : ''),
    );
    // Every measured arm has Gatehouse ingesting the same reports beside it (bench/ingestion-ballast.ts):
    // the guarded arms their own, with the ballast's batches going to a sink; the unprotected one
    // the ballast's. `none (quiet)` is the unprotected route with Gatehouse idle: the interference.
    const sink = await usageSink();
    cleanups.add(sink.close);
    const route = (path: string, to?: string) => (d = duration) =>
      besideIngestion(to, service, 'bench-caller', path, (onResponse) => load(svcUrl, keyHeader, undefined, { duration: d, connections, path, onResponse }));
    for (const warm of [route('/none'), route('/passthrough'), route('/verify'), route('/cached')]) await warm(2);
    pinGatehouse(api.child.pid!, databaseUrl);
    say(serviceCap(svc.child.pid!, args, cleanups));
    const zero = cpuZero(api.child.pid!, databaseUrl);
    const results = await rounds(
      count,
      {
        none: () => measured(svc.child.pid, () => route('/none', apiUrl)(), zero),
        'none (quiet)': () => measured(svc.child.pid, () => route('/none')(), zero),
        passthrough: () => measured(svc.child.pid, () => route('/passthrough', apiUrl)(), zero),
        verify: () => measured(svc.child.pid, () => route('/verify', sink.url)(), zero),
        cached: () => measured(svc.child.pid, () => route('/cached', sink.url)(), zero),
      },
      say,
    );

    const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
    const none = results['none']!;
    const verify = results['verify']!;
    const cached = results['cached']!;
    // Each figure: the median of the per-round ratios; the ratio of the best rounds beside it.
    const verifyRatio = roundRatio(verify, none);
    const cachedRatio = roundRatio(cached, none);
    const quiet = results['none (quiet)']!;
    const cachedVsQuiet = roundRatio(cached, quiet);
    const interference = roundRatio(none, quiet);
    const passthrough = results['passthrough']!;
    const passthroughRatio = roundRatio(passthrough, none);
    const cachedVsPassthrough = roundRatio(cached, passthrough);
    say(`verifying every request ÷ unprotected, median of per-round ratios = ${verifyRatio} (reported); best ${verify.rps.toFixed(0)} ÷ ${none.rps.toFixed(0)} req/s = ${ratio(verify.rps, none.rps)}`);
    say(`short cache (${CACHE_TTL_MS / 1000} s) ÷ unprotected, both beside Gatehouse ingesting their reports = ${cachedRatio} (target ≥ 0.90); best ${cached.rps.toFixed(0)} ÷ ${none.rps.toFixed(0)} req/s = ${ratio(cached.rps, none.rps)}`);
    say(`a middleware that only calls next() ÷ unprotected = ${passthroughRatio} (Express's price for any middleware); short cache ÷ that = ${cachedVsPassthrough} (the guard's own)`);
    say(`short cache ÷ unprotected with Gatehouse idle = ${cachedVsQuiet}; the unprotected route beside the ingestion ÷ with Gatehouse idle = ${interference}`);
    // CPU per request of the service alone: what the middleware costs the service itself.
    const cpuVerify = ratio(none.cpuMedianUs, verify.cpuMedianUs);
    const cpuCached = ratio(none.cpuMedianUs, cached.cpuMedianUs);
    say(`service CPU per request (µs, median): none ${none.cpuMedianUs.toFixed(0)}, verify ${verify.cpuMedianUs.toFixed(0)} (ratio ${cpuVerify}), cached ${cached.cpuMedianUs.toFixed(0)} (ratio ${cpuCached})`);
    say(
      JSON.stringify({
        bench: 'middleware',
        verify_ratio: verifyRatio,
        cached_ratio: cachedRatio,
        cached_vs_quiet_none_ratio: cachedVsQuiet,
        ingestion_interference: interference,
        passthrough_ratio: passthroughRatio,
        cached_vs_passthrough_ratio: cachedVsPassthrough,
        cpu_verify_ratio: Number.isFinite(cpuVerify) ? cpuVerify : null,
        cpu_cached_ratio: Number.isFinite(cpuCached) ? cpuCached : null,
        none_rps: Math.round(none.rps),
        verify_rps: Math.round(verify.rps),
        cached_rps: Math.round(cached.rps),
      }),
    );
  } finally {
    await cleanups.run();
  }
}
