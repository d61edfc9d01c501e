import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildUi } from '../../scripts/build-ui.js';

const DIST = 'ui/dist';

async function snapshot(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const e of await readdir(DIST, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name.startsWith('.')) continue;
    const path = join(e.parentPath, e.name);
    files.set(path, await readFile(path, 'utf8'));
  }
  return files;
}

/**
 * `npm start` rebuilds the UI while other Gatehouse processes may be serving ui/dist (here: the
 * other test files' stacks). Every read of a file the build had, made while it runs, gets that
 * file whole; vite's own build emptied the folder first and failed these reads.
 */
describe("npm start's UI build", () => {
  it('never shows a reader of ui/dist a missing or partly written file', { timeout: 180_000 }, async () => {
    const before = await snapshot();
    expect(before.size).toBeGreaterThan(1);
    let building = true;
    const build = buildUi().finally(() => (building = false));
    let reads = 0;
    const failures: string[] = [];
    while (building) {
      for (const [path, content] of before) {
        reads++;
        const now = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => `<${err.code}>`);
        if (now !== content) failures.push(`${path}: ${now.length < 20 ? now : `${now.length} of ${content.length} characters`}`);
      }
    }
    await build;
    expect(failures).toEqual([]);
    // The reads spanned the build, or they proved nothing.
    expect(reads).toBeGreaterThan(before.size * 10);
    // The same sources make the same files: nothing was left behind or lost.
    expect(await snapshot()).toEqual(before);
  });
});
