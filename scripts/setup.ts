// `npm run setup`: installs what npm cannot (the temporal CLI). `npm start` and `npm test` run it too.
import { execFileSync } from 'node:child_process';
import { ensureTemporalCli } from './ensure-temporal.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const cli = ensureTemporalCli(say);
say(`temporal CLI: ${cli} (${execFileSync(cli, ['--version']).toString().trim()})`);
