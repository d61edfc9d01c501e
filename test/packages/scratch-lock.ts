// A package-lock for the scratch consumer project, cut from the repository's own: `npm ci
// --offline` then takes every dependency from the npm cache by integrity, needing no registry
// metadata (which `npm ci` never cached), and installs exactly the versions the repo tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface LockEntry {
  version?: string;
  integrity?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [k: string]: unknown;
}

export interface Tarball {
  name: string;
  version: string;
  filename: string;
  integrity: string;
  dependencies: Record<string, string>;
}

/** The lock's path for `name` as required from `from`: Node's lookup, nearest node_modules first. */
function locate(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate] && !packages[candidate].link) return candidate;
    if (!dir) return undefined;
  }
}

export function scratchLock(repoRoot: string, tarballs: Tarball[], direct: Record<string, string>): { packageJson: object; lock: object } {
  const repo = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const ours = new Set(tarballs.map((t) => t.name));

  function add(from: string, name: string) {
    if (ours.has(name)) return;
    const path = locate(repo.packages, from, name);
    if (!path) throw new Error(`${name} (needed by ${from || 'the consumer'}) is not in package-lock.json`);
    if (out[path]) return;
    const entry = repo.packages[path]!;
    // Everything the consumer installs is a production dependency of it.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    out[path] = kept;
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n))]) {
      add(path, dep);
    }
  }

  const dependencies: Record<string, string> = { ...Object.fromEntries(tarballs.map((t) => [t.name, `file:${t.filename}`])), ...direct };
  for (const t of tarballs) {
    out[`node_modules/${t.name}`] = { version: t.version, resolved: `file:${t.filename}`, integrity: t.integrity, dependencies: t.dependencies };
    for (const dep of Object.keys(t.dependencies)) add(`node_modules/${t.name}`, dep);
  }
  for (const dep of Object.keys(direct)) add('', dep);
  const packageJson = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies };
  return { packageJson, lock: { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'consumer', version: '1.0.0', dependencies }, ...out } } };
}
