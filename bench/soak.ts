// `npm run bench -- soak`: test/operations/scale-out.test.ts for longer. Two API processes and two
// workers on one PostgreSQL and one Temporal, publishes to several endpoints, usage reports,
// verifications of a rate-limited key and key rotations spread over --seconds (default 300); one API
// process and one worker are SIGKILLed halfway and restarted. Prints the figures (deliveries missing
// and duplicated, rotations finished, the shared rate limit, usage accepted vs stored per process)
// as one JSON line. Options: --seconds <n>, --rate <operations per second> (default 10).
// Uses a fresh database on DATABASE_URL's server (else an embedded PostgreSQL) and TEMPORAL_ADDRESS
// (else a Temporal dev server).
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../core/config.js';
import { startStack } from '../test/harness.js';
import { runScaleOut } from '../test/operations/scale-out-run.js';
import { Receiver } from '../test/webhooks/receiver.js';
import { benchDatabase, benchTemporal, Cleanups, option } from './services.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

export async function run(args: string[]): Promise<void> {
  const seconds = option(args, 'seconds', 300);
  const rate = option(args, 'rate', 10);
  const cleanups = new Cleanups();
  try {
    const env = loadConfig();
    const databaseUrl = await benchDatabase(env, cleanups);
    const temporalAddress = await benchTemporal(env, cleanups);
    const stack = await startStack({
      worker: false,
      databaseUrl,
      services: { databaseUrl, temporalAddress, workflowBundlePath: '' },
      env: { GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' },
    });
    cleanups.add(() => stack.close());
    const rx = await new Receiver().start();
    cleanups.add(() => rx.close());
    // The test's mix (60 events, 60 reports, 200 verifications, 6 rotations per 326 operations) at `rate`.
    const total = seconds * rate;
    const share = (n: number) => Math.max(1, Math.round((total * n) / 326));
    const loadBefore = loadavg()[0];
    const f = await runScaleOut(
      stack,
      rx,
      {
        events: share(60),
        endpoints: 3,
        reports: share(60),
        recordsPerReport: 10,
        verifications: share(200),
        rateLimit: Math.round(share(200) / 3),
        rotations: share(6),
        concurrency: 8,
        seconds,
      },
      say,
    );
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, loadBefore, loadAfter: loadavg()[0] };
    process.stdout.write(`${JSON.stringify({ bench: 'soak', machine, ...f, events: { ...f.events, missing: f.events.missing.length } })}\n`);
  } finally {
    await cleanups.run();
  }
}
