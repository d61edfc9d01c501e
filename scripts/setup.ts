// `npm run setup`: installs what npm cannot (the temporal CLI; `requests` for the seed page's Python
// example, which the tests run). `npm start` and `npm test` run it too.
import { execFileSync } from 'node:child_process';
import { ensureTemporalCli } from './ensure-temporal.js';
import { pipInstall, pythonWithRequests } from './venv.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const cli = ensureTemporalCli(say);
say(`temporal CLI: ${cli} (${execFileSync(cli, ['--version']).toString().trim()})`);

if (!pythonWithRequests()) {
  say('Python `requests` not found: installing it into .venv (once) for the seed examples test…');
  try {
    pipInstall(['requests'], 'for the seed examples test');
  } catch (err) {
    // Only that test needs it, and it says so when it fails: never a reason for `npm start` to stop.
    say(`could not install requests (${(err as Error).message}); test/keys/seed-examples.test.ts will fail until it is`);
  }
}
