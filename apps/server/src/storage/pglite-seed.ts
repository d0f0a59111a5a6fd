/**
 * A pre-initialised empty PGlite data directory, written at install time by
 * scripts/pglite-seed.mjs. Unpacking it is several times faster than PGlite's
 * initdb, which is what makes a fresh embedded start ready within seconds.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

// The package exports no ./package.json: walk up from its entry point.
function findPackageJson(from: string): string {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === '@electric-sql/pglite') return p;
  }
  throw new Error('@electric-sql/pglite package.json not found');
}

export function pgliteSeedPath(): string | null {
  try {
    const pkgJson = findPackageJson(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
    const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
    return join(dirname(pkgJson), '..', '..', '.cache', 'stock-tracker', `pglite-seed-${version}.tgz`);
  } catch {
    return null;
  }
}

/** The seed as a Blob when the directory is new (empty) and a seed exists; otherwise undefined. */
export function seedFor(dataDir: string): Blob | undefined {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return undefined;
  const path = pgliteSeedPath();
  if (!path || !existsSync(path)) return undefined;
  return new Blob([readFileSync(path)]);
}
