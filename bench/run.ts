// `npm run bench -- <name> [args]`: runs bench/<name>.ts, which exports `run(args)`.
// Each benchmark starts what it needs and prints its figures; the last line is one JSON object.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];

if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(`${here}/${name}.ts`)) {
  process.stderr.write(`usage: npm run bench -- <name>\navailable: ${available.join(', ')}\n`);
  process.exit(2);
}

const mod = (await import(`./${name}.ts`)) as { run?: (args: string[]) => Promise<void> };
if (typeof mod.run !== 'function') {
  process.stderr.write(`bench/${name}.ts exports no run(args)\n`);
  process.exit(2);
}
await mod.run(process.argv.slice(3));
// Child processes and pools are closed by the benchmark; anything left (a keep-alive socket) must not hang the run.
process.exit(0);
