// `npm run bench -- rotation`: key rotation against real PostgreSQL and a Temporal dev server.
// Measures (1) rotateKey latency — the transaction plus the workflow start — over sequential
// rotations, (2) end-grace latency (Temporal Update that waits for the revocation activity),
// (3) how late the workflow revokes a retired secret after its grace period ends, with many
// rotations ending at the same moment. Options: --rotations <n> (default 100), --concurrent <n> (50).
// Uses a fresh database on DATABASE_URL's server, else an embedded PostgreSQL.
import { randomBytes } from 'node:crypto';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createActivities } from '../activities/index.js';
import { loadConfig } from '../core/config.js';
import { newId } from '../core/ids.js';
import { endGraceNow, rotateKey, type RotationDeps } from '../core/keys/rotation/commands.js';
import type { KeyActor } from '../core/keys/service.js';
import { generateSecret, hashSecret, maskSecret } from '../core/keys/secret.js';
import { createLogger } from '../core/log.js';
import { expandPermissions } from '../core/permissions.js';
import { createOrm, migrate } from '../db/orm.js';
import { connectTemporal } from '../temporal/client.js';
import { bundleWorkflows, createWorker } from '../temporal/worker.js';
import { benchDatabase, benchTemporal, Cleanups, option } from './services.js';

const say = (line: string) => process.stdout.write(`${line}\n`);


function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

const stats = (v: number[]) => ({ p50: pct(v, 50), p95: pct(v, 95), max: pct(v, 100) });

export async function run(args: string[]): Promise<void> {
  const rotations = option(args, 'rotations', 100);
  const concurrent = option(args, 'concurrent', 50);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const cleanups = new Cleanups();
  const env = loadConfig();
  const url = await benchDatabase(env, cleanups);
  const temporalAddress = await benchTemporal(env, cleanups);
  const config = loadConfig({ DATABASE_URL: url, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`, LOG_LEVEL: 'warn' });
  const log = createLogger('warn');
  const orm = await createOrm(url, { pool: { min: 0, max: 20 } });
  await migrate(orm);
  const temporal = await connectTemporal(temporalAddress, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE);
  const { worker, connection } = await createWorker({
    address: temporalAddress,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    activities: createActivities({ orm, log, config, temporal }),
    bundle: await bundleWorkflows(),
  });
  const running = worker.run();

  try {
    const em = () => orm.em.fork() as EntityManager;
    const workspaceId = 'bench';
    await em().execute(`insert into workspace (id, name, key_prefix, created_at) values (?, ?, 'gate', now())`, [workspaceId, workspaceId]);
    const makeKey = async (id: string) => {
      const secret = generateSecret('gate', 'live');
      const pk = newId('kid');
      await em().execute(
        `insert into api_key (pk, workspace_id, id, client_id, permissions, rate_limits, ip_allowlist, metadata, start, created_at, updated_at)
         values (?, ?, ?, 'ci_' || replace(gen_random_uuid()::text, '-', ''), '["admin"]', '[]', '[]', '{}', ?, now(), now())`,
        [pk, workspaceId, id, maskSecret(secret)],
      );
      await em().execute(`insert into api_key_secret (hash, api_key_pk, start, created_at) values (?, ?, ?, now())`, [hashSecret(secret), pk, maskSecret(secret)]);
      return pk;
    };
    const actorPk = await makeKey('actor');
    const actor: KeyActor = { workspaceId, keyPk: actorPk, keyId: 'actor', scopes: new Set(expandPermissions(['admin'])), ip: '127.0.0.1' };
    const deps = (): RotationDeps => ({ em: em(), temporal, log, config });

    // 1 + 2: sequential rotations, then end each grace period.
    for (let i = 0; i < rotations; i++) await makeKey(`seq-${i}`);
    const rotateMs: number[] = [];
    for (let i = 0; i < rotations; i++) {
      const t = performance.now();
      await rotateKey(deps(), { actor, keyId: `seq-${i}`, gracePeriodSeconds: 3600 });
      rotateMs.push(performance.now() - t);
    }
    say(`rotateKey (transaction + workflow start), ${rotations} sequential: ${JSON.stringify(stats(rotateMs))} ms`);
    const endMs: number[] = [];
    for (let i = 0; i < rotations; i++) {
      const t = performance.now();
      await endGraceNow(deps(), { actor, keyId: `seq-${i}` });
      endMs.push(performance.now() - t);
    }
    say(`end-grace (Update, answers after revocation), ${rotations} sequential: ${JSON.stringify(stats(endMs))} ms`);

    // 3: many grace periods ending together.
    for (let i = 0; i < concurrent; i++) await makeKey(`par-${i}`);
    await Promise.all(Array.from({ length: concurrent }, (_, i) => rotateKey(deps(), { actor, keyId: `par-${i}`, gracePeriodSeconds: 3 })));
    const deadline = Date.now() + 60_000;
    let lags: number[] = [];
    while (Date.now() < deadline) {
      const rows = await em().execute<{ lag_ms: number }[]>(
        `select extract(epoch from (s.revoked_at - s.expires_at_before)) * 1000 as lag_ms
           from (select s.revoked_at, k.last_rotated_at + interval '3 seconds' as expires_at_before
                   from api_key_secret s join api_key k on k.pk = s.api_key_pk
                  where k.id like 'par-%' and s.rotation = 0 and s.revoked_at is not null) s`,
      );
      lags = rows.map((r) => Number(r.lag_ms));
      if (lags.length === concurrent) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    say(`revocation after grace end, ${concurrent} rotations ending together (${lags.length} revoked): ${JSON.stringify(stats(lags))} ms`);
    // Figures over the rotations that finished would flatter: the slowest are the ones missing.
    if (lags.length !== concurrent) {
      throw new Error(`rotation bench incomplete: ${concurrent - lags.length} of ${concurrent} retired secrets were not revoked within 60 s of their grace period's end`);
    }
    say(JSON.stringify({ bench: 'rotation', rotations, concurrent, rotateMs: stats(rotateMs), endGraceMs: stats(endMs), revokeLagMs: stats(lags) }));
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await temporal.connection.close();
    await orm.close();
    await cleanups.run();
  }
}
