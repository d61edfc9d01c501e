import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../free-port.js';

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** `npm start` as a newcomer runs it, with its own data folder and ports. */
function start(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 90 s:\n${out}`)), 90_000);
    const poll = setInterval(() => {
      // The banner's last line: "ready in" comes first, and the lines after it may arrive in a later chunk.
      if (out.includes('[gatehouse] ready in') && out.includes('Ctrl-C stops everything')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

async function listening(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

let dataDir: string | undefined;
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('starts the whole stack, stops it all on Ctrl-C, and keeps the data for the next start', { timeout: 360_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-start-'));
    await chmod(dataDir, 0o755);
    const [port, temporalPort, uiPort, pgPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GATEHOUSE_DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      GATEHOUSE_POSTGRES_PORT: String(pgPort),
      LOG_LEVEL: 'warn',
    };
    // The embedded defaults are what this test is about.
    delete env['DATABASE_URL'];
    delete env['TEMPORAL_ADDRESS'];
    delete env['GATEHOUSE_BOOTSTRAP_KEY'];

    const first = await start(env);
    const out = first.output();
    expect(out).toContain(`http://127.0.0.1:${port}`);
    expect(out).toContain(`Temporal Web UI:  http://127.0.0.1:${uiPort}`);
    const adminKey = /^\s+(gate_sk_live_\w+)\s*$/m.exec(out)?.[1];
    expect(adminKey, 'the first start prints an admin key once').toMatch(/^gate_sk_live_[0-9A-Za-z]{28}$/);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', postgres: 'ok', temporal: 'ok' });
    const ui = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: 'text/html' } });
    expect(await ui.text()).toContain('<div id="app">');
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
    const selfTest = await fetch(`http://127.0.0.1:${port}/trpc/system.selfTest`, {
      method: 'POST',
      headers: { 'x-api-key': adminKey!, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(((await selfTest.json()) as { result: { data: { keys: number } } }).result.data.keys).toBe(1);

    expect(await stop(first.child)).toBe(0);
    expect(await listening(port)).toBe(false);
    expect(await listening(uiPort)).toBe(false);

    const second = await start(env);
    expect(second.output()).not.toMatch(/gate_sk_live_/);
    const whoami = await fetch(`http://127.0.0.1:${port}/trpc/system.whoami`, { headers: { 'x-api-key': adminKey! } });
    expect(whoami.status).toBe(200);
    expect(await stop(second.child)).toBe(0);
  });
});
