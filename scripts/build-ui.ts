// The admin UI's build for `npm start` and `npm run build:ui`, published so that a server reading
// ui/dist meanwhile never sees it half made.
import { spawn } from 'node:child_process';
import { mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'ui/dist');
const STAGING = '.next-';

/**
 * Builds the UI into a staging folder inside ui/dist, then moves each file into place with a rename,
 * which replaces a file whole; files the new build no longer has go last. Vite's own build empties
 * ui/dist first and writes each file in place, so a Gatehouse already serving it (another process, a
 * test beside `npm start`'s) answered 404s or half-written files until the build was done.
 */
export async function buildUi(): Promise<void> {
  const staging = join(DIST, `${STAGING}${process.pid}`);
  await run(process.execPath, [
    join(ROOT, 'node_modules/vite/bin/vite.js'),
    'build',
    '--config',
    join(ROOT, 'ui/vite.config.ts'),
    '--logLevel',
    'warn',
    '--outDir',
    staging,
    '--emptyOutDir',
  ]);
  const built = new Set(await filesUnder(staging));
  for (const file of built) {
    await mkdir(dirname(join(DIST, file)), { recursive: true });
    await rename(join(staging, file), join(DIST, file));
  }
  await rm(staging, { recursive: true, force: true });
  for (const file of await filesUnder(DIST)) {
    if (!built.has(file) && !file.startsWith(STAGING)) await unlink(join(DIST, file));
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // Always the production bundle: under NODE_ENV=test (a test running `npm start`) Svelte's dev
    // build came out, and ui/dist changed under the other test files serving it.
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

// `npm run build:ui`: a deploy building beside a running API replaces its files the same way.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildUi();
