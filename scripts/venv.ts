import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The project's own Python environment, where setup installs what npm cannot. */
export const VENV_PYTHON = resolve('.venv/bin/python');

/** The first of `candidates` that runs (and exits 0) with these arguments. */
function firstThatRuns(candidates: string[], args: string[]): string | undefined {
  return candidates.find((p) => spawnSync(p, args, { stdio: 'ignore' }).status === 0);
}

/** Installs PyPI packages into .venv, making it first with the system Python; `why` ends the error without one. */
export function pipInstall(packages: string[], why: string): void {
  const python = firstThatRuns(['python3', 'python'], ['--version']);
  if (!python) throw new Error(`python3 is needed ${why}`);
  if (!existsSync('.venv/bin/pip')) execFileSync(python, ['-m', 'venv', '.venv'], { stdio: 'inherit' });
  execFileSync('.venv/bin/pip', ['install', '--quiet', '--disable-pip-version-check', ...packages], { stdio: 'inherit' });
}

/**
 * A Python that can `import requests`, as the seed page's Python example needs
 * (test/keys/seed-examples.test.ts): .venv's, else the system's; undefined when neither can.
 */
export function pythonWithRequests(): string | undefined {
  return firstThatRuns([VENV_PYTHON, 'python3'], ['-c', 'import requests']);
}
