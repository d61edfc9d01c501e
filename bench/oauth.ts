// `npm run bench -- oauth`: OAuth access tokens on loopback, as ratios against baselines measured in
// the same run, rounds alternated, the same connections for every figure (issue #14's targets):
// - token issuance (POST /oauth/token, one signature per token) ÷ POST /v1/keys/verify (≥ 0.5), the
//   API capped at half a CPU so that it, not the load generator, bounds both;
// - a route guarded by gatehouse/express checking Bearer tokens offline ÷ the same route with no
//   auth (≥ 0.8), and ÷ the same route checking each token online by introspection (≥ 3).
// Also printed: the same route checking the key itself online (x-api-key), the check before OAuth.
// Options: --duration <s> (default 10), --connections <n> (default 32), --rounds <n> (default 5),
// --profile <dir> (V8 CPU profiles written when they exit: the API's in <dir>/api, the service's in <dir>/service).
// Starts its own database and Temporal as bench/verify.ts does; the API is `server/main.ts`.
import { randomBytes } from 'node:crypto';
import { bootstrap } from '../core/bootstrap.js';
import { loadConfig } from '../core/config.js';
import { newId } from '../core/ids.js';
import { newClientId } from '../core/keys/client-id.js';
import { generateSecret, hashSecret, maskSecret } from '../core/keys/secret.js';
import { createOrm, migrate } from '../db/orm.js';
import { stopChild } from '../temporal/dev-server.js';
import { freePort } from '../test/free-port.js';
import { capCpu, cpuZero, load, measured, PIN, pinGatehouse, roundRatio, rounds, serviceCap, waitForPost } from './load.js';
import { besideIngestion, usageSink } from './ingestion-ballast.js';
import { benchDatabase, benchTemporal, Cleanups, option, spawnNode } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const AUDIENCE = 'https://products.bench.example';

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
    // The caller's key (its client id and secret get tokens) and the provider service's key; tokens
    // live an hour so none expires mid-run, and name the service's audience.
    const em = orm.em.fork();
    const insertKey = async (id: string, permissions: string[]) => {
      const secret = generateSecret('gate', 'live');
      const pk = newId('kid');
      const clientId = newClientId();
      await em.execute(
        `insert into api_key (pk, workspace_id, id, client_id, name, environment, permissions, rate_limits, ip_allowlist, metadata, enabled, start, created_at, updated_at)
         values (?, 'default', ?, ?, 'bench', 'live', ?, '[]', '[]', '{}', true, ?, now(), now())`,
        [pk, id, clientId, JSON.stringify(permissions), maskSecret(secret)],
      );
      await em.execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [hashSecret(secret), pk, maskSecret(secret)]);
      return { secret, clientId };
    };
    const caller = await insertKey('bench-client', ['products:read']);
    const service = await insertKey('bench-service', ['keys:verify', 'usage:write']);
    await em.execute(`update workspace set oauth_token_ttl_seconds = 3600, oauth_audiences = ? where id = 'default'`, [JSON.stringify([AUDIENCE])]);
    await orm.close();

    const profileAt = args.indexOf('--profile');
    const profileDir = profileAt >= 0 ? args[profileAt + 1] : undefined;
    const profile = (sub: string) => (profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${sub}`] : []);
    const apiPort = await freePort();
    const api = spawnNode(['server/main.ts'], {
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`,
      GATEHOUSE_BOOTSTRAP_KEY: bootstrapKey,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    }, { prefix: PIN, nodeFlags: profile('api') });
    cleanups.add(() => stopChild(api.child));
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitForPost(apiUrl, api.child, api.output);

    const basic = { authorization: `Basic ${Buffer.from(`${caller.clientId}:${caller.secret}`).toString('base64')}` };
    const form = { contentType: 'application/x-www-form-urlencoded', path: '/oauth/token' };
    const tokenBody = 'grant_type=client_credentials';
    const issued = await fetch(`${apiUrl}/oauth/token`, { method: 'POST', headers: { ...basic, 'content-type': form.contentType }, body: tokenBody });
    const tokenAnswer = (await issued.json()) as { access_token?: string };
    if (issued.status !== 200 || !tokenAnswer.access_token) throw new Error(`no token for the bench client: ${issued.status} ${JSON.stringify(tokenAnswer)}`);
    const bearer = { authorization: `Bearer ${tokenAnswer.access_token}` };
    const verifyAuth = { 'x-api-key': service.secret };
    const verifyBody = JSON.stringify({ key: caller.secret, permission: 'products:read' });

    const servicePort = await freePort();
    const svc = spawnNode(['bench/_oauth-service.ts'], { PORT: String(servicePort), GATEHOUSE_URL: apiUrl, SERVICE_KEY: service.secret, AUDIENCE }, {
      prefix: PIN,
      nodeFlags: profile('service'),
    });
    cleanups.add(() => stopChild(svc.child));
    const svcUrl = `http://127.0.0.1:${servicePort}`;
    await waitForPost(svcUrl, svc.child, svc.output);
    for (const [path, headers] of [['/none', {}], ['/offline', bearer], ['/online', bearer], ['/key', { 'x-api-key': caller.secret }]] as const) {
      const res = await fetch(svcUrl + path, { headers });
      if (res.status !== 200) throw new Error(`the service's ${path} answered ${res.status}: ${await res.text()}\n${svc.output.join('')}`);
    }

    say(
      `oauth bench: ${connections} connections, ${count} rounds of ${duration} s, loopback; API pid ${api.child.pid}, service pid ${svc.child.pid}` +
        (PIN.length ? '; servers on CPU 1, load generator on CPU 0' : ''),
    );
    const issue = (d = duration) => load(apiUrl, basic, tokenBody, { duration: d, connections, ...form });
    const verify = (d = duration) => load(apiUrl, verifyAuth, verifyBody, { duration: d, connections });
    // Every route arm has Gatehouse ingesting the same usage reports beside it (bench/ingestion-ballast.ts):
    // the guarded arms their own, with the ballast's batches going to a sink; the unprotected one the
    // ballast's. `none (quiet)` is the unprotected route with Gatehouse idle: the interference.
    const sink = await usageSink();
    cleanups.add(sink.close);
    const route = (path: string, headers: Record<string, string>, to?: string) => (d = duration) =>
      besideIngestion(to, service.secret, 'bench-client', path, (onResponse) => load(svcUrl, headers, undefined, { duration: d, connections, path, onResponse }));
    const keyHeader = { 'x-api-key': caller.secret };
    // Warm every path: JIT, caches, pools, the service's JWKS.
    for (const warm of [issue, verify, route('/none', {}), route('/offline', bearer), route('/online', bearer), route('/key', keyHeader)]) await warm(2);

    // The API capped at half a CPU for these rounds, as the service is for the route rounds: uncapped,
    // verification (~35 µs a call on a fast machine) outran the load generator, which shares CPU 0
    // with PostgreSQL, so verify's req/s measured CPU 0 (the API 83-88 % busy) while issuance kept
    // CPU 1 busy, and the ratio flattered issuance (BENCHMARKS.md, 2026-12-03). Capped, each arm's
    // req/s is the API's capacity at that share.
    const apiCap = PIN.length ? capCpu(api.child.pid!, 0.5, cleanups) : undefined;
    say(`token issuance against key verification (API process${apiCap ? `, capped at ${apiCap.description}` : ', uncapped: cgroups not writable here, req/s may measure the load generator'}):`);
    const server = await rounds(count, {
      issue: () => measured(api.child.pid, () => issue()),
      verify: () => measured(api.child.pid, () => verify()),
    }, say);
    apiCap?.release();
    // The service is the process under test now: it gets CPU 1 to itself, and the API (answering the
    // service's usage reports, and the online checks) moves to CPU 0 beside the load generator, as it
    // would run on a machine of its own in production rather than on the service's core.
    pinGatehouse(api.child.pid!, databaseUrl);
    say(serviceCap(svc.child.pid!, args, cleanups));
    const zero = cpuZero(api.child.pid!, databaseUrl);
    say('a route of the provider service (service process on CPU 1, the API moved to CPU 0; online checks also load the API):');
    const routes = await rounds(count, {
      none: () => measured(svc.child.pid, () => route('/none', {}, apiUrl)(), zero),
      'none (quiet)': () => measured(svc.child.pid, () => route('/none', {})(), zero),
      offline: () => measured(svc.child.pid, () => route('/offline', bearer, sink.url)(), zero),
      online: () => measured(svc.child.pid, () => route('/online', bearer, sink.url)(), zero),
      key: () => measured(svc.child.pid, () => route('/key', keyHeader, sink.url)(), zero),
    }, say);

    const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
    // Each figure: the median of the per-round ratios; the ratio of the best rounds beside it.
    const issuance = roundRatio(server['issue']!, server['verify']!);
    const offlineVsNone = roundRatio(routes['offline']!, routes['none']!);
    const offlineVsQuiet = roundRatio(routes['offline']!, routes['none (quiet)']!);
    const interference = roundRatio(routes['none']!, routes['none (quiet)']!);
    const offlineVsOnline = roundRatio(routes['offline']!, routes['online']!);
    const offlineVsKey = roundRatio(routes['offline']!, routes['key']!);
    const best = (a: string, b: string, of: typeof server) => `best ${of[a]!.rps.toFixed(0)} ÷ ${of[b]!.rps.toFixed(0)} req/s = ${ratio(of[a]!.rps, of[b]!.rps)}`;
    say(`token issuance ÷ verify, median of per-round ratios = ${issuance} (target ≥ 0.5); ${best('issue', 'verify', server)}`);
    say(`offline Bearer ÷ no auth, both beside Gatehouse ingesting their reports = ${offlineVsNone} (target ≥ 0.8); ${best('offline', 'none', routes)}`);
    say(`offline Bearer ÷ no auth with Gatehouse idle = ${offlineVsQuiet}; the unprotected route beside the ingestion ÷ with Gatehouse idle = ${interference}`);
    say(`offline Bearer ÷ introspection = ${offlineVsOnline} (target ≥ 3); ${best('offline', 'online', routes)}`);
    say(`offline Bearer ÷ x-api-key verified online = ${offlineVsKey}; ${best('offline', 'key', routes)}`);
    // The same ratios by CPU time per request of the measured process (median of the rounds): the
    // share of throughput a CPU-bound process keeps, unmoved by other load on the machine. The
    // online routes' figure leaves out the API process's own work for them.
    const cpuIssuance = ratio(server['verify']!.cpuMedianUs, server['issue']!.cpuMedianUs);
    const cpuOfflineVsNone = ratio(routes['none']!.cpuMedianUs, routes['offline']!.cpuMedianUs);
    const cpuOfflineVsOnline = ratio(routes['online']!.cpuMedianUs, routes['offline']!.cpuMedianUs);
    say(
      `by CPU per request (µs, median): issue ${server['issue']!.cpuMedianUs.toFixed(0)}, verify ${server['verify']!.cpuMedianUs.toFixed(0)} (ratio ${cpuIssuance}); ` +
        `route none ${routes['none']!.cpuMedianUs.toFixed(0)}, offline ${routes['offline']!.cpuMedianUs.toFixed(0)} (ratio ${cpuOfflineVsNone}), ` +
        `introspection ${routes['online']!.cpuMedianUs.toFixed(0)} in the service alone (ratio ${cpuOfflineVsOnline})`,
    );
    say(
      JSON.stringify({
        bench: 'oauth',
        issuance_ratio: issuance,
        offline_vs_none_ratio: offlineVsNone,
        offline_vs_quiet_none_ratio: offlineVsQuiet,
        ingestion_interference: interference,
        offline_vs_introspect_ratio: offlineVsOnline,
        offline_vs_key_ratio: offlineVsKey,
        cpu_issuance_ratio: Number.isFinite(cpuIssuance) ? cpuIssuance : null,
        cpu_offline_vs_none_ratio: Number.isFinite(cpuOfflineVsNone) ? cpuOfflineVsNone : null,
        cpu_offline_vs_introspect_ratio: Number.isFinite(cpuOfflineVsOnline) ? cpuOfflineVsOnline : null,
        issue_rps: Math.round(server['issue']!.rps),
        verify_rps: Math.round(server['verify']!.rps),
        none_rps: Math.round(routes['none']!.rps),
        offline_rps: Math.round(routes['offline']!.rps),
        introspect_rps: Math.round(routes['online']!.rps),
        key_rps: Math.round(routes['key']!.rps),
      }),
    );
  } finally {
    await cleanups.run();
  }
}
