import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of a file, resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from\s+['"](\.[^'"]+)['"]/g)].map((m) => relative(ROOT, join(file, '..', m[1]!)));
}

describe('layers', () => {
  it('the tRPC layer never imports from the REST layer: what both need lives in core/', () => {
    const found = sources(join(ROOT, 'server', 'routers')).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith(join('server', 'rest') + '/'))
        .map((target) => `${relative(ROOT, file)} imports ${target}`),
    );
    expect(found).toEqual([]);
  });

  it('core/ never imports from server/: core is callable from REST, tRPC and activities alike', () => {
    const found = sources(join(ROOT, 'core')).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('server/'))
        .map((target) => `${relative(ROOT, file)} imports ${target}`),
    );
    expect(found).toEqual([]);
  });
});
