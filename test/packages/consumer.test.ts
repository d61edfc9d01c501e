// The packages as a provider's service gets them: packed, installed from the tarballs into a
// project outside the repository with nothing else of Gatehouse, type-checked by tsc, and run
// under plain Node 20 and Node 24 against a running Gatehouse.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../harness.js';
import { scratchLock } from './scratch-lock.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(import.meta.dirname, 'fixtures');
const PACKAGES = ['@gatehouse/client', '@gatehouse/express'];
/** Node 24 is the repo's dev dependency; the system's `node` is the older LTS line providers run. */
const NODES = { 24: join(ROOT, 'node_modules/node/bin/node'), 20: '/usr/bin/node' };

let stack: Stack;
let scratch: string;
let packed: { name: string; version: string; integrity: string; files: { path: string }[]; filename: string }[];
let root: { secret: string };

beforeAll(async () => {
  // CI builds them first (`npm run build:packages`); a local run without dist/ builds them here.
  if (!PACKAGES.every((p) => existsSync(join(ROOT, 'packages', p.split('/')[1]!, 'dist')))) {
    await run('npm', ['run', 'build', ...PACKAGES.flatMap((p) => ['--workspace', p])], { cwd: ROOT });
  }
  scratch = mkdtempSync(join(tmpdir(), 'gatehouse-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch, ...PACKAGES.flatMap((p) => ['--workspace', p])], { cwd: ROOT });
  packed = JSON.parse(stdout);
  const versions = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const tarballs = packed.map((p) => ({ ...p, dependencies: JSON.parse(readFileSync(join(ROOT, 'packages', p.name.split('/')[1]!, 'package.json'), 'utf8')).dependencies }));
  const { packageJson, lock } = scratchLock(ROOT, tarballs, { express: versions.dependencies['express']!, '@types/express': versions.devDependencies['@types/express']! });
  writeFileSync(join(scratch, 'package.json'), JSON.stringify(packageJson));
  writeFileSync(join(scratch, 'package-lock.json'), JSON.stringify(lock));
  // Offline: every tarball comes from the npm cache the repository's own install filled.
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: scratch });
  copyFileSync(join(FIXTURES, 'service.mjs'), join(scratch, 'service.mjs'));
  stack = await startStack({ worker: false });
  root = await stack.workspace(['admin']);
}, 240_000);

afterAll(async () => {
  await stack?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The repo's tsc over the scratch project's files: its diagnostics, empty when they type-check. */
async function typecheck(files: Record<string, string>): Promise<string> {
  for (const [name, source] of Object.entries(files)) writeFileSync(join(scratch, name), source);
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'], strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: Object.keys(files) }),
  );
  try {
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', scratch], { cwd: scratch });
    return '';
  } catch (err) {
    return (err as { stdout: string }).stdout;
  }
}

describe('the packed packages', () => {
  it('hold their built dist/, README and package.json only: no server code', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(PACKAGES);
    // One version for the server and both packages.
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    expect(packed.map((p) => p.version)).toEqual([version, version]);
    expect(JSON.parse(readFileSync(join(ROOT, 'packages/express/package.json'), 'utf8')).dependencies['@gatehouse/client']).toBe(version);
    for (const p of packed) {
      const paths = p.files.map((f) => f.path);
      expect(paths.filter((f) => !/^(dist\/.+\.(js|d\.ts|js\.map)|README\.md|package\.json|LICENSE)$/.test(f))).toEqual([]);
      expect(paths).toContain('README.md');
    }
    const client = packed.find((p) => p.name === '@gatehouse/client')!.files.map((f) => f.path);
    expect(client).toContain('dist/app-router.d.ts');
    const declaration = readFileSync(join(scratch, 'node_modules/@gatehouse/client/dist/app-router.d.ts'), 'utf8');
    // The router's types are spelled out; nothing names a server module or a server-only package.
    expect(declaration.match(/from '([^']+)'|import\("([^"]+)"\)/g)).toEqual(["from '@trpc/server'"]);
  });

  it("type-check a consumer's procedure calls, and refuse a misspelt procedure or input field", { timeout: 180_000 }, async () => {
    const good = readFileSync(join(FIXTURES, 'consumer.ts'), 'utf8');
    const typos = good.replace('client.keys.get.query(', 'client.keys.gett.query(').replace('{ id: key.id, patch: { enabled: false } }', '{ id: key.id, patch: { enabeld: false } }');
    expect(typos).not.toBe(good);
    // One program, one tsc run: the fixture as written passes, its misspelt copy fails twice.
    const errors = (await typecheck({ 'consumer.ts': good, 'typos.ts': typos })).trim().split('\n').filter((l) => /error TS/.test(l));
    expect(errors).toEqual([
      expect.stringMatching(/^typos\.ts\(\d+,\d+\): error TS2551: Property 'gett' does not exist/),
      expect.stringMatching(/^typos\.ts\(\d+,\d+\): error TS2561: Object literal may only specify known properties, but 'enabeld' does not exist/),
    ]);
  });

  for (const [major, binary] of Object.entries(NODES)) {
    it(`protect a plain Express service under Node ${major}: 200 and a usage record, 401 revoked, 403, 429 with headers`, async () => {
      const { stdout: version } = await run(binary, ['--version']);
      expect(version.trim()).toMatch(new RegExp(`^v${major}\\.`));

      const service = await createKey({ id: `service-${major}`, permissions: ['keys:verify', 'usage:write'] });
      const reader = await createKey({ id: `reader-${major}`, permissions: ['products:read'], rate_limits: [{ name: 'per-minute', limit: 2, window_seconds: 60 }] });
      const writer = await createKey({ id: `writer-${major}`, permissions: ['products:write'] });
      const revoked = await createKey({ id: `revoked-${major}`, permissions: ['products:read'] });
      expect((await stack.rest('DELETE', `/api-keys/revoked-${major}`, { key: root.secret })).status).toBeLessThan(300);

      const { child, url } = await startService(binary, service);
      try {
        const call = (key: string) => fetch(`${url}/products/7`, { headers: { 'x-api-key': key } });
        const ok = await call(reader);
        expect(ok.status).toBe(200);
        expect(await ok.json()).toEqual({ id: '7', by: `reader-${major}`, node: expect.stringMatching(new RegExp(`^${major}\\.`)) });
        expect((await call(revoked)).status).toBe(401);
        const forbidden = await call(writer);
        expect(forbidden.status).toBe(403);
        expect((await forbidden.json()).error.code).toBe('insufficient_permissions');
        expect((await call(reader)).status).toBe(200);
        const limited = await call(reader);
        expect(limited.status).toBe(429);
        expect(limited.headers.get('ratelimit-limit')).toBe('2');
        expect(limited.headers.get('ratelimit-remaining')).toBe('0');
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

        // The service reports in batches every 100 ms: poll until Gatehouse shows its call.
        const deadline = Date.now() + 20_000;
        let seen: [string, number][] = [];
        while (Date.now() < deadline) {
          await stack.deps.usage.flush();
          const log = await stack.rest('GET', `/logs?source=service&key_id=reader-${major}&limit=10`, { key: root.secret });
          seen = log.body.entries.map((e: { route: string; status: number }) => [e.route, e.status]);
          if (seen.length >= 3) break;
          await new Promise((r) => setImmediate(r));
        }
        expect(seen.reverse()).toEqual([
          ['/products/{id}', 200],
          ['/products/{id}', 200],
          ['/products/{id}', 429],
        ]);
      } finally {
        child.kill('SIGTERM');
      }
    });
  }
});

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await stack.rest('POST', '/api-keys', { key: root.secret, body });
  expect(res.status).toBe(201);
  return res.body.api_key as string;
}

/** The fixture service from the scratch project, on a free port it prints once listening. */
async function startService(node: string, serviceKey: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(node, ['service.mjs'], { cwd: scratch, env: { PATH: process.env['PATH'] ?? '', GATEHOUSE_URL: stack.url, SERVICE_KEY: serviceKey }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<string>((resolvePort, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening (\d+)/.exec(output);
      if (m) resolvePort(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`service exited (${code}): ${output}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}
