import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
/** Where workflows are started and Schedules declared. */
const DIRS = ['core', 'server', 'activities', 'temporal', 'scripts', 'packages/client/src', 'packages/express/src'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('workflows are named by function reference', () => {
  it('no start, execute or signalWithStart by name, no Schedule action by name, no workflow id spelled outside temporal/workflow-ids.ts', () => {
    const found: string[] = [];
    for (const file of DIRS.flatMap((d) => sources(join(ROOT, d)))) {
      const text = readFileSync(file, 'utf8');
      const where = relative(ROOT, file);
      for (const m of text.matchAll(/\.workflow\s*\.\s*(start|execute|signalWithStart)\s*(<[^>]*>)?\s*\(\s*['"`]/g)) found.push(`${where}: ${m[0]}`);
      for (const m of text.matchAll(/workflowType\s*:\s*['"`]/g)) found.push(`${where}: ${m[0]}`);
      if (where !== join('temporal', 'workflow-ids.ts')) {
        for (const m of text.matchAll(/['"`](rotation|delivery|fanout|recover|selftest|outbox-sweep|key-reminders|usage-monthly-rollup):(\$\{|['"`]\s*\|\|)/g)) {
          found.push(`${where}: ${m[0]}`);
        }
      }
    }
    expect(found).toEqual([]);
  });
});
