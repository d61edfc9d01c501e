import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Queries are typed from the entities: a column an entity does not declare (renamed, removed)
 * fails `tsc` at the query that names it. Each case is a copy of a fixture in its own directory
 * under test-output/ (inside the repository, so packages resolve) with a tiny tsconfig.
 */
const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const fixture = join(root, 'test/data-layer/fixtures/renamed-column');
const scratch = join(root, 'test-output', `typed-queries-${randomBytes(4).toString('hex')}`);
const DIRECTIVE = /^\s*\/\/ @ts-expect-error renamed-column.*\n/m;

afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Runs tsc over `files` (name → text) in a new directory; returns its exit code and output. */
async function tsc(name: string, files: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  const tsconfig = {
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { noEmit: true, types: [], incremental: false },
    include: Object.keys(files),
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  try {
    const { stdout } = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir });
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  }
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('queries are typed from the entities', () => {
  it('a query naming a column its entity does not declare fails typecheck at that line; the right column passes', async () => {
    const entity = await readFile(join(fixture, 'entity.ts'), 'utf8');
    const query = await readFile(join(fixture, 'query.ts'), 'utf8');
    expect(query).toMatch(DIRECTIVE);

    // As committed: the directive marks the expected error (an unused one would fail `npm run typecheck`).
    expect(await tsc('as-committed', { 'entity.ts': entity, 'query.ts': query })).toMatchObject({ code: 0 });

    const stale = query.replace(DIRECTIVE, '');
    const failed = await tsc('stale', { 'entity.ts': entity, 'query.ts': stale });
    expect(failed.code).not.toBe(0);
    const line = lineOf(stale, `.select(['id', 'title'])`);
    expect(failed.out).toMatch(new RegExp(`^query\\.ts\\(${line},\\d+\\): error TS\\d+:[^]*"title"`));
    expect(failed.out.trim().split('\n').filter((l) => /error TS/.test(l))).toHaveLength(1);

    const fixed = stale.replace(`'title'`, `'label'`);
    expect(await tsc('fixed', { 'entity.ts': entity, 'query.ts': fixed })).toEqual({ code: 0, out: '' });
  });

  it("the same holds for Gatehouse's own tables through the workspace scope", async () => {
    const query = (column: string) =>
      [
        `import type { EntityManager } from '@mikro-orm/postgresql';`,
        `import { workspaceScope } from '../../../core/scope.js';`,
        `export const names = (em: EntityManager) => workspaceScope(em, 'ws').selectFrom('api_key').select(['id', '${column}']).execute();`,
        '',
      ].join('\n');
    const failed = await tsc('scoped-stale', { 'scoped.ts': query('title') });
    expect(failed.code).not.toBe(0);
    expect(failed.out).toMatch(/^scoped\.ts\(3,\d+\): error TS\d+:[^]*"title"/);
    expect(await tsc('scoped-fixed', { 'scoped.ts': query('name') })).toEqual({ code: 0, out: '' });
  });
});
